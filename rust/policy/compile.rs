//! Compiling a route's policy once from the Python declaration (a dict).

use std::fmt;

use actix_web::http::header::{HeaderName, HeaderValue, InvalidHeaderValue};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyAny, PyDict, PyList, PyString};

use super::gate::{Authenticator, CacheRule, PolicyCore};
use super::guards::Guard;
use super::proxies::Net;
use super::rate_limit::{RateKey, RateLimit};
use crate::auth::api_key::ApiKeyAuth;
use crate::auth::jwt::{JwtAuth, JwtSettings};
use crate::auth::source::CredentialSource;
use crate::http::compress::{CompressionPolicy, Encoding};
use crate::http::cors::{CorsPolicy, CorsSettings};
use crate::http::origins::OriginCheck;
use crate::http::security::SecurityHeaders;
use crate::store::backend::{Backend, Revocation, Store};

/// A policy declaration Rust cannot compile (ValueError).
#[derive(Debug)]
pub enum SpecError {
    Missing(String),
    HeaderName(String),
    NoJwtKey,
    RevocationMode(String),
    AuthKind(String),
    GuardKind(String),
    RateLimit,
    RateKey(String),
    NoBackend,
    HeaderValue(InvalidHeaderValue),
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing(key) => write!(f, "policy spec needs {key:?}"),
            Self::HeaderName(name) => write!(f, "invalid header name {name:?}"),
            Self::NoJwtKey => f.write_str("JWT authentication needs a key"),
            Self::RevocationMode(mode) => write!(f, "unknown revocation mode {mode:?}"),
            Self::AuthKind(kind) => write!(f, "unknown authentication kind {kind:?}"),
            Self::GuardKind(kind) => write!(f, "unknown guard kind {kind:?}"),
            Self::RateLimit => f.write_str("rate limits need rate > 0 and burst >= 1"),
            Self::RateKey(key) => write!(
                f,
                "rate limit key {key:?}: use ip, user, api_key or header:<name>"
            ),
            Self::NoBackend => f.write_str("rate limit spec needs a backend"),
            Self::HeaderValue(e) => write!(f, "invalid header value: {e}"),
        }
    }
}

impl std::error::Error for SpecError {}

impl From<SpecError> for PyErr {
    fn from(e: SpecError) -> Self {
        PyValueError::new_err(e.to_string())
    }
}

fn get<'py, T>(spec: &Bound<'py, PyDict>, key: &str) -> PyResult<Option<T>>
where
    T: for<'a> FromPyObject<'a, 'py, Error = PyErr>,
{
    match spec.get_item(key)? {
        Some(v) if !v.is_none() => {
            Ok(Some(v.extract::<T>().map_err(|e| {
                PyTypeError::new_err(format!("{key}: {}", e.value(spec.py())))
            })?))
        }
        _ => Ok(None),
    }
}

fn req<'py, T>(spec: &Bound<'py, PyDict>, key: &str) -> PyResult<T>
where
    T: for<'a> FromPyObject<'a, 'py, Error = PyErr>,
{
    Ok(get(spec, key)?.ok_or_else(|| SpecError::Missing(key.to_owned()))?)
}

fn header_name(name: &str) -> PyResult<HeaderName> {
    HeaderName::from_bytes(name.trim().to_ascii_lowercase().as_bytes())
        .map_err(|_| SpecError::HeaderName(name.to_owned()).into())
}

fn source(
    spec: &Bound<'_, PyDict>,
    default_header: &str,
    default_scheme: &str,
) -> PyResult<CredentialSource> {
    Ok(CredentialSource {
        header: header_name(
            &get::<String>(spec, "header")?.unwrap_or_else(|| default_header.into()),
        )?,
        scheme: get::<String>(spec, "scheme")?.unwrap_or_else(|| default_scheme.into()),
        cookie: get(spec, "cookie")?,
        query: get(spec, "query")?,
    })
}

fn backend_store(obj: &Bound<'_, PyAny>) -> PyResult<Store> {
    let backend = obj.cast::<Backend>()?;
    Ok(backend.get().store.clone())
}

fn compile_auth(spec: &Bound<'_, PyDict>) -> PyResult<Authenticator> {
    let kind: String = req(spec, "kind")?;
    match kind.as_str() {
        "jwt" => {
            let key: Vec<u8> = match spec.get_item("key")? {
                Some(k) if k.is_instance_of::<PyString>() => k.extract::<String>()?.into_bytes(),
                Some(k) if !k.is_none() => k.extract()?,
                _ => return Err(SpecError::NoJwtKey.into()),
            };
            let revocation = match spec.get_item("revocation")? {
                Some(r) if r.is_instance_of::<PyString>() => {
                    let r: String = r.extract()?;
                    if r != "python" {
                        return Err(SpecError::RevocationMode(r).into());
                    }
                    Some(Revocation::Python)
                }
                Some(r) if !r.is_none() => Some(Revocation::Store(backend_store(&r)?)),
                _ => None,
            };
            let settings = JwtSettings {
                algorithms: req(spec, "algorithms")?,
                key,
                audience: get(spec, "audience")?,
                issuer: get(spec, "issuer")?,
                leeway: get(spec, "leeway")?.unwrap_or(0),
                require: get(spec, "require")?.unwrap_or_else(|| vec!["exp".into()]),
            };
            let source = source(spec, "authorization", "Bearer")?;
            Ok(Authenticator::Jwt(Box::new(JwtAuth::new(
                settings, source, revocation,
            )?)))
        }
        "api_key" => {
            let keys: Vec<(String, String, Vec<String>)> = req(spec, "keys")?;
            let source = source(spec, "x-api-key", "")?;
            Ok(Authenticator::ApiKey(ApiKeyAuth::new(source, keys)?))
        }
        "python" => Ok(Authenticator::Python),
        other => Err(SpecError::AuthKind(other.to_owned()).into()),
    }
}

fn compile_guard(spec: &Bound<'_, PyDict>) -> PyResult<Guard> {
    let kind: String = req(spec, "kind")?;
    Ok(match kind.as_str() {
        "allow_any" => Guard::AllowAny,
        "authenticated" => Guard::Authenticated,
        "superuser" => Guard::Superuser,
        "staff" => Guard::Staff,
        "all_permissions" => Guard::AllPermissions(req(spec, "values")?),
        "any_permission" => Guard::AnyPermission(req(spec, "values")?),
        "any_role" => Guard::AnyRole(req(spec, "values")?),
        "backend" => {
            let values: Vec<String> = req(spec, "values")?;
            Guard::Backend(values.into_iter().next().unwrap_or_default())
        }
        "python" => Guard::Python,
        other => return Err(SpecError::GuardKind(other.to_owned()).into()),
    })
}

fn list_of_dicts<'py>(spec: &Bound<'py, PyDict>, key: &str) -> PyResult<Vec<Bound<'py, PyDict>>> {
    match spec.get_item(key)? {
        Some(v) if !v.is_none() => v
            .cast::<PyList>()?
            .iter()
            .map(|item| item.cast_into::<PyDict>().map_err(Into::into))
            .collect(),
        _ => Ok(Vec::new()),
    }
}

fn sub_dict<'py>(spec: &Bound<'py, PyDict>, key: &str) -> PyResult<Option<Bound<'py, PyDict>>> {
    match spec.get_item(key)? {
        Some(v) if !v.is_none() => Ok(Some(v.cast_into::<PyDict>()?)),
        _ => Ok(None),
    }
}

fn header_value(value: &str) -> PyResult<HeaderValue> {
    HeaderValue::from_str(value).map_err(|e| SpecError::HeaderValue(e).into())
}

fn compile_security(spec: &Bound<'_, PyDict>) -> PyResult<SecurityHeaders> {
    let always: Vec<(String, String)> = get(spec, "always")?.unwrap_or_default();
    let hsts: Option<String> = get(spec, "hsts")?;
    let secure_proxy: Option<(String, String)> = get(spec, "secure_proxy_header")?;
    Ok(SecurityHeaders {
        always: always
            .iter()
            .map(|(k, v)| Ok((header_name(k)?, header_value(v)?)))
            .collect::<PyResult<_>>()?,
        hsts: hsts.as_deref().map(header_value).transpose()?,
        secure_proxy: secure_proxy
            .map(|(k, v)| Ok::<_, PyErr>((header_name(&k)?, v)))
            .transpose()?,
    })
}

impl PolicyCore {
    pub fn compile(spec: &Bound<'_, PyDict>) -> PyResult<Self> {
        let auth = list_of_dicts(spec, "auth")?
            .iter()
            .map(compile_auth)
            .collect::<PyResult<Vec<_>>>()?;
        let guards = list_of_dicts(spec, "guards")?
            .iter()
            .map(compile_guard)
            .collect::<PyResult<Vec<_>>>()?;
        let cors = match sub_dict(spec, "cors")? {
            Some(c) => Some(CorsPolicy::new(CorsSettings {
                origins: get(&c, "origins")?.unwrap_or_default(),
                methods: get(&c, "methods")?.unwrap_or_else(|| {
                    ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
                        .map(String::from)
                        .to_vec()
                }),
                headers: get(&c, "headers")?.unwrap_or_default(),
                expose_headers: get(&c, "expose_headers")?.unwrap_or_default(),
                credentials: get(&c, "credentials")?.unwrap_or(false),
                max_age: get(&c, "max_age")?,
            })?),
            None => None,
        };
        let rate_limit = match sub_dict(spec, "rate_limit")? {
            Some(r) => {
                let rate: f64 = req(&r, "rate")?;
                let burst: f64 = req(&r, "burst")?;
                if !(rate > 0.0 && rate.is_finite() && burst >= 1.0 && burst.is_finite()) {
                    return Err(SpecError::RateLimit.into());
                }
                let key_spec: String = get(&r, "key")?.unwrap_or_else(|| "ip".into());
                let key = match key_spec.as_str() {
                    "ip" => RateKey::Ip,
                    "user" => RateKey::User,
                    "api_key" => RateKey::ApiKey,
                    other => match other.strip_prefix("header:") {
                        Some(h) => RateKey::Header(header_name(h)?),
                        None => return Err(SpecError::RateKey(other.to_owned()).into()),
                    },
                };
                let backend = r.get_item("backend")?.ok_or(SpecError::NoBackend)?;
                let store = backend_store(&backend)?;
                Some(RateLimit {
                    rate,
                    burst,
                    key,
                    scope: req(&r, "scope")?,
                    store,
                })
            }
            None => None,
        };
        let compression = match sub_dict(spec, "compression")? {
            Some(c) => Some(CompressionPolicy {
                backend: Encoding::parse(
                    &get::<String>(&c, "backend")?.unwrap_or_else(|| "gzip".into()),
                )?,
                minimum_size: get(&c, "minimum_size")?.unwrap_or(500),
                gzip_fallback: get(&c, "gzip_fallback")?.unwrap_or(true),
            }),
            None => None,
        };
        let ws_origins = match sub_dict(spec, "websocket_origins")? {
            Some(o) => Some(OriginCheck::new(
                &get::<Vec<String>>(&o, "origins")?.unwrap_or_default(),
                &get::<Vec<String>>(&o, "hosts")?.unwrap_or_default(),
            )?),
            None => None,
        };
        let security = match sub_dict(spec, "security_headers")? {
            Some(s) => Some(compile_security(&s)?),
            None => None,
        };
        let cache = match sub_dict(spec, "cache")? {
            Some(c) => Some(CacheRule {
                per_user: get(&c, "per_user")?.unwrap_or(false),
                cookies: get(&c, "cookies")?.unwrap_or(false),
            }),
            None => None,
        };
        let trusted_proxies = get::<Vec<String>>(spec, "trusted_proxies")?
            .unwrap_or_default()
            .iter()
            .map(|t| Net::parse(t))
            .collect::<Result<Vec<_>, _>>()?;
        let challenge = match auth.iter().find(|a| !matches!(a, Authenticator::Python)) {
            Some(Authenticator::ApiKey(k)) => format!("ApiKey header=\"{}\"", k.source.header),
            Some(_) => "Bearer realm=\"api\"".to_string(),
            None if auth.is_empty() => "Bearer realm=\"api\"".to_string(),
            None => "Session realm=\"api\"".to_string(),
        };
        Ok(Self {
            auth,
            guards,
            cors,
            rate_limit,
            compression,
            ws_origins,
            security,
            trusted_proxies,
            challenge: HeaderValue::from_str(&challenge).map_err(SpecError::HeaderValue)?,
            cache,
        })
    }
}
