//! A route's security and middleware policy, compiled once from the Python declaration
//! and applied in Rust before any Python runs: CORS preflight, rate limiting,
//! authentication and guards. Rejections (401, 403, 429, preflight) never reach Python.

use std::net::IpAddr;
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::http::header::{
    HeaderMap, HeaderName, HeaderValue, ORIGIN, RETRY_AFTER, WWW_AUTHENTICATE,
};
use actix_web::http::{Method, StatusCode};
use actix_web::HttpResponse;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyAny, PyBool, PyDict, PyFloat, PyInt, PyList, PyString};
use serde_json::Value;

use crate::auth::{ApiKeyAuth, CredentialSource, Identity, JwtAuth, JwtSettings, Outcome};
use crate::backend::{Backend, Decision, Revocation, Store};
use crate::compress::{CompressionPolicy, Encoding};
use crate::cors::{CorsPolicy, CorsSettings};
use crate::dispatch::{json_error, static_error};
use crate::websocket::OriginCheck;

pub enum Authenticator {
    Jwt(Box<JwtAuth>),
    ApiKey(ApiKeyAuth),
    /// A Python backend (sessions, custom `BaseAuth`): runs in Python when Rust found no
    /// identity.
    Python,
}

pub enum Guard {
    AllowAny,
    Authenticated,
    Superuser,
    Staff,
    AllPermissions(Vec<String>),
    AnyPermission(Vec<String>),
    AnyRole(Vec<String>),
    /// Authenticated by this backend ("jwt" or "api_key").
    Backend(String),
    /// A Python `BaseGuard`: evaluated in Python after the Rust guards pass.
    Python,
}

enum RateKey {
    Ip,
    User,
    ApiKey,
    Header(HeaderName),
}

struct RateLimit {
    rate: f64,
    burst: f64,
    key: RateKey,
    scope: String,
    store: Store,
}

/// An IP network for `BOLT_TRUSTED_PROXIES`.
#[derive(Debug, Clone)]
pub struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl Net {
    pub fn parse(text: &str) -> Result<Self, String> {
        let (ip, prefix) = match text.split_once('/') {
            Some((ip, p)) => (ip, Some(p)),
            None => (text, None),
        };
        let addr: IpAddr = ip
            .trim()
            .parse()
            .map_err(|_| format!("invalid trusted proxy address {text:?}"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("invalid trusted proxy prefix in {text:?}"))?,
            None => max,
        };
        Ok(Self { addr, prefix })
    }

    pub fn contains(&self, ip: &IpAddr) -> bool {
        fn masked(bits: u128, prefix: u8, width: u8) -> u128 {
            if prefix == 0 {
                0
            } else {
                bits >> (width - prefix)
            }
        }
        match (self.addr, ip) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                masked(u32::from(a) as u128, self.prefix, 32)
                    == masked(u32::from(*b) as u128, self.prefix, 32)
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                masked(u128::from(a), self.prefix, 128) == masked(u128::from(*b), self.prefix, 128)
            }
            (IpAddr::V4(_), IpAddr::V6(b)) => b
                .to_ipv4_mapped()
                .is_some_and(|v4| self.contains(&IpAddr::V4(v4))),
            _ => false,
        }
    }
}

/// The client's address: the peer, or when the peer is a trusted proxy, the nearest
/// untrusted address in X-Forwarded-For.
pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[Net]) -> Option<IpAddr> {
    let peer = peer?;
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let mut candidate = peer;
    for ip in forwarded.iter().rev() {
        candidate = *ip;
        if !is_trusted(ip) {
            break;
        }
    }
    Some(candidate)
}

pub struct PolicyCore {
    auth: Vec<Authenticator>,
    guards: Vec<Guard>,
    pub cors: Option<CorsPolicy>,
    rate_limit: Option<RateLimit>,
    pub compression: Option<CompressionPolicy>,
    /// WebSocket routes: which origins may open a connection.
    pub ws_origins: Option<OriginCheck>,
    trusted_proxies: Vec<Net>,
    challenge: HeaderValue,
}

/// What the gate decided for one request.
pub enum Gate {
    Pass {
        identity: Option<Identity>,
        /// Python authentication or guards still have to run.
        python: bool,
    },
    Reject(HttpResponse),
}

pub struct RequestView<'a> {
    pub method: &'a Method,
    pub headers: &'a HeaderMap,
    pub query: &'a str,
    pub peer: Option<IpAddr>,
}

fn capitalize(reason: &str) -> String {
    let mut chars = reason.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

impl PolicyCore {
    pub fn has_auth(&self) -> bool {
        !self.auth.is_empty() || !self.guards.is_empty()
    }

    pub fn needs_gate(&self) -> bool {
        self.has_auth() || self.rate_limit.is_some()
    }

    /// True when the gate never waits (no Redis): it can run to completion inline.
    pub fn gate_is_immediate(&self) -> bool {
        let redis_limit = matches!(
            self.rate_limit.as_ref().map(|r| &r.store),
            Some(Store::Redis(_))
        );
        let redis_revocation = self.auth.iter().any(|a| {
            matches!(a, Authenticator::Jwt(j) if matches!(j.revocation, Some(Revocation::Store(Store::Redis(_)))))
        });
        !redis_limit && !redis_revocation
    }

    fn unauthorized(&self, reason: Option<&str>) -> HttpResponse {
        let mut resp = match reason {
            Some(r) => json_error(StatusCode::UNAUTHORIZED, &capitalize(r)),
            None => static_error(
                StatusCode::UNAUTHORIZED,
                b"{\"detail\":\"Authentication credentials were not provided\"}",
            ),
        };
        let mut challenge = self.challenge.clone();
        if let Some(r) = reason {
            let escaped = r.replace(['"', '\\'], "'");
            let with_error = format!(
                "{}, error=\"invalid_token\", error_description=\"{escaped}\"",
                self.challenge.to_str().unwrap_or("Bearer")
            );
            if let Ok(v) = HeaderValue::from_str(&with_error) {
                challenge = v;
            }
        }
        resp.headers_mut().insert(WWW_AUTHENTICATE, challenge);
        resp
    }

    fn rate_key(
        &self,
        rl: &RateLimit,
        req: &RequestView<'_>,
        identity: Option<&Identity>,
    ) -> String {
        let ip = || {
            client_ip(req.peer, req.headers, &self.trusted_proxies)
                .map(|ip| format!("ip:{ip}"))
                .unwrap_or_else(|| "ip:unknown".into())
        };
        let key = match &rl.key {
            RateKey::Ip => ip(),
            RateKey::User => identity
                .and_then(|i| {
                    i.user_id
                        .as_ref()
                        .map(|u| format!("user:{u}"))
                        .or_else(|| i.key_name.as_ref().map(|k| format!("key:{k}")))
                })
                .unwrap_or_else(ip),
            RateKey::ApiKey => identity
                .and_then(|i| i.key_name.as_ref().map(|k| format!("key:{k}")))
                .unwrap_or_else(ip),
            RateKey::Header(name) => req
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| format!("h:{v}"))
                .unwrap_or_else(ip),
        };
        format!("{}:{key}", rl.scope)
    }

    async fn limit(
        &self,
        req: &RequestView<'_>,
        identity: Option<&Identity>,
    ) -> Option<HttpResponse> {
        let rl = self.rate_limit.as_ref()?;
        let key = self.rate_key(rl, req, identity);
        match rl.store.take(&key, rl.rate, rl.burst).await {
            Ok(Decision::Allowed) => None,
            Ok(Decision::Limited(wait)) => {
                let mut resp = static_error(
                    StatusCode::TOO_MANY_REQUESTS,
                    b"{\"detail\":\"Rate limit exceeded\"}",
                );
                let secs = wait.ceil().max(1.0) as u64;
                resp.headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from(secs));
                Some(resp)
            }
            Err(e) => {
                // The limiter's store is unreachable: serve rather than fail every request.
                log_store_error(&e);
                None
            }
        }
    }

    /// Runs rate limiting, authentication and guards.
    pub async fn gate(&self, req: &RequestView<'_>) -> Gate {
        let keyed_by_identity = matches!(
            self.rate_limit.as_ref().map(|r| &r.key),
            Some(RateKey::User) | Some(RateKey::ApiKey)
        );
        if !keyed_by_identity {
            if let Some(resp) = self.limit(req, None).await {
                return Gate::Reject(resp);
            }
        }
        let mut identity: Option<Identity> = None;
        let mut failure: Option<String> = None;
        let mut python_auth = false;
        for auth in &self.auth {
            let outcome = match auth {
                Authenticator::Jwt(jwt) => match jwt.authenticate(req.headers, req.query) {
                    Outcome::Valid(id) => match &jwt.revocation {
                        Some(Revocation::Store(store)) => match check_revoked(store, &id).await {
                            Ok(()) => Outcome::Valid(id),
                            Err(reason) => Outcome::Invalid(reason),
                        },
                        Some(Revocation::Python) => {
                            python_auth = true;
                            Outcome::Valid(id)
                        }
                        None => Outcome::Valid(id),
                    },
                    other => other,
                },
                Authenticator::ApiKey(key) => key.authenticate(req.headers, req.query),
                Authenticator::Python => {
                    python_auth = true;
                    continue;
                }
            };
            match outcome {
                Outcome::Valid(id) => {
                    identity = Some(id);
                    break;
                }
                Outcome::Invalid(reason) => {
                    failure.get_or_insert(reason);
                }
                Outcome::Absent => {}
            }
        }
        // An identity from Rust settles authentication unless its revocation is checked in
        // Python; without one, Python backends may still authenticate.
        let python_pending = match &identity {
            Some(_) => python_auth && self.has_python_revocation(),
            None => python_auth,
        };
        if keyed_by_identity {
            if let Some(resp) = self.limit(req, identity.as_ref()).await {
                return Gate::Reject(resp);
            }
        }
        if identity.is_none() && python_pending {
            // Python backends decide who this is; guards run there too.
            return Gate::Pass {
                identity: None,
                python: true,
            };
        }
        let mut python_guards = false;
        for guard in &self.guards {
            if let Guard::Python = guard {
                python_guards = true;
                continue;
            }
            if let Guard::AllowAny = guard {
                continue;
            }
            let Some(id) = identity.as_ref() else {
                return Gate::Reject(self.unauthorized(failure.as_deref()));
            };
            if let Some(detail) = denial(guard, id) {
                return Gate::Reject(json_error(StatusCode::FORBIDDEN, &detail));
            }
        }
        Gate::Pass {
            identity,
            python: python_guards || python_pending,
        }
    }

    fn has_python_revocation(&self) -> bool {
        self.auth.iter().any(|a| {
            matches!(a, Authenticator::Jwt(j) if matches!(j.revocation, Some(Revocation::Python)))
        })
    }

    /// A preflight answer when this policy has CORS and the request is a preflight.
    pub fn preflight(&self, method: &Method, headers: &HeaderMap) -> Option<HttpResponse> {
        let cors = self.cors.as_ref()?;
        CorsPolicy::is_preflight(method, headers).then(|| cors.preflight(headers))
    }

    /// Adds CORS response headers for the request's Origin.
    pub fn finish(&self, request: &HeaderMap, response: &mut HeaderMap) {
        if let Some(cors) = &self.cors {
            cors.apply(request.get(ORIGIN), response);
        }
    }
}

async fn check_revoked(store: &Store, id: &Identity) -> Result<(), String> {
    let jti = id
        .claims
        .as_ref()
        .and_then(|c| c.get("jti"))
        .and_then(Value::as_str);
    let Some(jti) = jti else {
        return Err("token has no jti claim, which revocation requires".into());
    };
    match store.is_revoked(jti).await {
        Ok(false) => Ok(()),
        Ok(true) => Err("token has been revoked".into()),
        Err(e) => {
            log_store_error(&e);
            Err("token revocation could not be checked".into())
        }
    }
}

fn log_store_error(e: &str) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    if LAST.swap(now, Ordering::Relaxed) + 10 <= now {
        eprintln!("django_bolt: shared store error: {e}");
    }
}

/// Why `guard` refuses `id`, or None when it allows.
fn denial(guard: &Guard, id: &Identity) -> Option<String> {
    match guard {
        Guard::AllowAny | Guard::Authenticated | Guard::Python => None,
        Guard::Superuser => (!id.is_superuser).then(|| "Superuser access required".into()),
        Guard::Staff => (!id.is_staff && !id.is_superuser).then(|| "Staff access required".into()),
        Guard::AllPermissions(perms) => perms
            .iter()
            .find(|p| !id.has_permission(p))
            .map(|p| format!("Permission {p:?} required")),
        Guard::AnyPermission(perms) => (!perms.iter().any(|p| id.has_permission(p)))
            .then(|| format!("One of the permissions {} required", quoted(perms))),
        Guard::AnyRole(roles) => (!roles.iter().any(|r| id.has_role(r)))
            .then(|| format!("Role {} required", quoted(roles))),
        Guard::Backend(name) => {
            (id.backend != name).then(|| format!("{name} authentication required"))
        }
    }
}

fn quoted(items: &[String]) -> String {
    items
        .iter()
        .map(|s| format!("{s:?}"))
        .collect::<Vec<_>>()
        .join(" or ")
}

// -- compiling from Python ---------------------------------------------------------------

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
    get(spec, key)?.ok_or_else(|| PyValueError::new_err(format!("policy spec needs {key:?}")))
}

fn header_name(name: &str) -> PyResult<HeaderName> {
    HeaderName::from_bytes(name.trim().to_ascii_lowercase().as_bytes())
        .map_err(|_| PyValueError::new_err(format!("invalid header name {name:?}")))
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
    let err = PyValueError::new_err::<String>;
    match kind.as_str() {
        "jwt" => {
            let key: Vec<u8> = match spec.get_item("key")? {
                Some(k) if k.is_instance_of::<PyString>() => k.extract::<String>()?.into_bytes(),
                Some(k) if !k.is_none() => k.extract()?,
                _ => return Err(err("JWT authentication needs a key".into())),
            };
            let revocation = match spec.get_item("revocation")? {
                Some(r) if r.is_instance_of::<PyString>() => {
                    let r: String = r.extract()?;
                    if r != "python" {
                        return Err(PyValueError::new_err(format!(
                            "unknown revocation mode {r:?}"
                        )));
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
            Ok(Authenticator::Jwt(Box::new(
                JwtAuth::new(settings, source, revocation).map_err(err)?,
            )))
        }
        "api_key" => {
            let keys: Vec<(String, String, Vec<String>)> = req(spec, "keys")?;
            let source = source(spec, "x-api-key", "")?;
            Ok(Authenticator::ApiKey(
                ApiKeyAuth::new(source, keys).map_err(err)?,
            ))
        }
        "python" => Ok(Authenticator::Python),
        other => Err(PyValueError::new_err(format!(
            "unknown authentication kind {other:?}"
        ))),
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
        other => {
            return Err(PyValueError::new_err(format!(
                "unknown guard kind {other:?}"
            )))
        }
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

impl PolicyCore {
    pub fn compile(spec: &Bound<'_, PyDict>) -> PyResult<Self> {
        let err = PyValueError::new_err::<String>;
        let auth = list_of_dicts(spec, "auth")?
            .iter()
            .map(compile_auth)
            .collect::<PyResult<Vec<_>>>()?;
        let guards = list_of_dicts(spec, "guards")?
            .iter()
            .map(compile_guard)
            .collect::<PyResult<Vec<_>>>()?;
        let cors = match sub_dict(spec, "cors")? {
            Some(c) => Some(
                CorsPolicy::new(CorsSettings {
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
                })
                .map_err(err)?,
            ),
            None => None,
        };
        let rate_limit = match sub_dict(spec, "rate_limit")? {
            Some(r) => {
                let rate: f64 = req(&r, "rate")?;
                let burst: f64 = req(&r, "burst")?;
                if !(rate > 0.0 && rate.is_finite() && burst >= 1.0 && burst.is_finite()) {
                    return Err(err("rate limits need rate > 0 and burst >= 1".into()));
                }
                let key_spec: String = get(&r, "key")?.unwrap_or_else(|| "ip".into());
                let key = match key_spec.as_str() {
                    "ip" => RateKey::Ip,
                    "user" => RateKey::User,
                    "api_key" => RateKey::ApiKey,
                    other => match other.strip_prefix("header:") {
                        Some(h) => RateKey::Header(header_name(h)?),
                        None => {
                            return Err(err(format!(
                                "rate limit key {other:?}: use ip, user, api_key or header:<name>"
                            )))
                        }
                    },
                };
                let backend = r
                    .get_item("backend")?
                    .ok_or_else(|| err("rate limit spec needs a backend".into()))?;
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
                )
                .map_err(err)?,
                minimum_size: get(&c, "minimum_size")?.unwrap_or(500),
                gzip_fallback: get(&c, "gzip_fallback")?.unwrap_or(true),
            }),
            None => None,
        };
        let ws_origins = match sub_dict(spec, "websocket_origins")? {
            Some(o) => Some(
                OriginCheck::new(
                    &get::<Vec<String>>(&o, "origins")?.unwrap_or_default(),
                    &get::<Vec<String>>(&o, "hosts")?.unwrap_or_default(),
                )
                .map_err(err)?,
            ),
            None => None,
        };
        let trusted_proxies = get::<Vec<String>>(spec, "trusted_proxies")?
            .unwrap_or_default()
            .iter()
            .map(|t| Net::parse(t))
            .collect::<Result<Vec<_>, _>>()
            .map_err(err)?;
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
            trusted_proxies,
            challenge: HeaderValue::from_str(&challenge).map_err(|e| err(e.to_string()))?,
        })
    }
}

/// The compiled policy of one route, attached to its router entry.
#[pyclass(frozen, module = "django_bolt._core")]
pub struct RoutePolicy {
    pub core: Arc<PolicyCore>,
}

#[pymethods]
impl RoutePolicy {
    #[new]
    fn new(spec: &Bound<'_, PyDict>) -> PyResult<Self> {
        Ok(Self {
            core: Arc::new(PolicyCore::compile(spec)?),
        })
    }

    /// Runs the gate for a request outside the Rust server (Django's URL resolver under
    /// runserver or any WSGI/ASGI server). Returns `("reject", status, headers, body)` or
    /// `("pass", context_or_None, python_pending)`; CORS response headers are added by
    /// `cors_headers`.
    #[pyo3(signature = (method, headers, query="", peer=None))]
    fn check<'py>(
        &self,
        py: Python<'py>,
        method: &str,
        headers: Vec<(String, String)>,
        query: &str,
        peer: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let map = header_map(&headers);
        let method = Method::from_bytes(method.as_bytes())
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        if let Some(resp) = self.core.preflight(&method, &map) {
            return reject_tuple(py, reject_parts(resp));
        }
        let peer = peer.and_then(|p| p.parse().ok());
        let core = Arc::clone(&self.core);
        let view = RequestView {
            method: &method,
            headers: &map,
            query,
            peer,
        };
        let gate = py.detach(|| {
            futures_executor::block_on(async {
                match core.gate(&view).await {
                    Gate::Reject(mut resp) => {
                        core.finish(view.headers, resp.headers_mut());
                        Err(reject_parts(resp))
                    }
                    Gate::Pass { identity, python } => Ok((identity, python)),
                }
            })
        });
        match gate {
            Err(parts) => reject_tuple(py, parts),
            Ok((identity, python)) => {
                let ctx = match identity {
                    Some(id) => identity_dict(py, &id)?.into_any(),
                    None => py.None().into_bound(py),
                };
                Ok(("pass", ctx, python).into_pyobject(py)?.into_any())
            }
        }
    }

    /// The CORS headers for a response to a request with these headers.
    fn cors_headers(&self, headers: Vec<(String, String)>) -> Vec<(String, String)> {
        let map = header_map(&headers);
        let mut out = HeaderMap::new();
        self.core.finish(&map, &mut out);
        out.iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
            .collect()
    }

    #[getter]
    fn has_auth(&self) -> bool {
        self.core.has_auth()
    }

    #[getter]
    fn has_cors(&self) -> bool {
        self.core.cors.is_some()
    }
}

fn header_map(headers: &[(String, String)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        if let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            map.append(k, v);
        }
    }
    map
}

type Parts = (u16, Vec<(String, String)>, Vec<u8>);

fn reject_parts(resp: HttpResponse) -> Parts {
    let status = resp.status().as_u16();
    let headers: Vec<(String, String)> = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let body = match resp.into_body().try_into_bytes() {
        Ok(b) => b.to_vec(),
        Err(_) => Vec::new(),
    };
    (status, headers, body)
}

fn reject_tuple<'py>(py: Python<'py>, parts: Parts) -> PyResult<Bound<'py, PyAny>> {
    let (status, headers, body) = parts;
    Ok((
        "reject",
        status,
        headers,
        pyo3::types::PyBytes::new(py, &body),
    )
        .into_pyobject(py)?
        .into_any())
}

// -- identity as a Python dict ------------------------------------------------------------

pub fn json_to_py<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                PyInt::new(py, i).into_any()
            } else if let Some(u) = n.as_u64() {
                PyInt::new(py, u).into_any()
            } else {
                PyFloat::new(py, n.as_f64().unwrap_or(f64::NAN)).into_any()
            }
        }
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(json_to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (k, v) in map {
                dict.set_item(k, json_to_py(py, v)?)?;
            }
            dict.into_any()
        }
    })
}

/// `request.context`: the token's claims (custom ones included) plus what they grant.
pub fn identity_dict<'py>(py: Python<'py>, id: &Identity) -> PyResult<Bound<'py, PyDict>> {
    let dict = match &id.claims {
        Some(claims) => {
            let c = PyDict::new(py);
            for (k, v) in claims {
                c.set_item(k, json_to_py(py, v)?)?;
            }
            let dict = c.copy()?;
            dict.set_item("claims", c)?;
            dict
        }
        None => PyDict::new(py),
    };
    dict.set_item("auth_backend", id.backend)?;
    dict.set_item("user_id", id.user_id.as_deref())?;
    dict.set_item("is_staff", id.is_staff)?;
    dict.set_item("is_superuser", id.is_superuser)?;
    dict.set_item("permissions", PyList::new(py, &id.permissions)?)?;
    dict.set_item("roles", PyList::new(py, &id.roles)?)?;
    if let Some(name) = &id.key_name {
        dict.set_item("api_key_name", name)?;
    }
    Ok(dict)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusted_proxies_and_forwarded_for() {
        let trusted = vec![
            Net::parse("10.0.0.0/8").unwrap(),
            Net::parse("127.0.0.1").unwrap(),
        ];
        let mut h = HeaderMap::new();
        h.insert(
            HeaderName::from_static("x-forwarded-for"),
            HeaderValue::from_static("1.2.3.4, 10.1.1.1"),
        );
        let peer: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(
            client_ip(Some(peer), &h, &trusted),
            Some("1.2.3.4".parse().unwrap())
        );
        let untrusted: IpAddr = "8.8.8.8".parse().unwrap();
        assert_eq!(client_ip(Some(untrusted), &h, &trusted), Some(untrusted));
        assert_eq!(client_ip(Some(peer), &h, &[]), Some(peer));
        assert!(Net::parse("10.0.0.0/33").is_err());
        assert!(Net::parse("::1/128")
            .unwrap()
            .contains(&"::1".parse().unwrap()));
        assert!(Net::parse("0.0.0.0/0")
            .unwrap()
            .contains(&"9.9.9.9".parse().unwrap()));
    }

    #[test]
    fn guards_deny_with_reasons() {
        let id = Identity {
            backend: "jwt",
            permissions: vec!["a.view".into()],
            roles: vec!["editor".into()],
            ..Identity::default()
        };
        assert!(denial(&Guard::AllPermissions(vec!["a.view".into()]), &id).is_none());
        assert!(denial(
            &Guard::AllPermissions(vec!["a.view".into(), "a.edit".into()]),
            &id
        )
        .is_some());
        assert!(denial(
            &Guard::AnyPermission(vec!["x".into(), "a.view".into()]),
            &id
        )
        .is_none());
        assert!(denial(&Guard::AnyRole(vec!["admin".into()]), &id).is_some());
        assert!(denial(&Guard::Staff, &id).is_some());
        let admin = Identity {
            is_superuser: true,
            ..Identity::default()
        };
        assert!(denial(&Guard::Staff, &admin).is_none());
        assert!(denial(&Guard::AllPermissions(vec!["any.thing".into()]), &admin).is_none());
    }
}
