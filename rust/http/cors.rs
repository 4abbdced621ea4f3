//! CORS: preflight answered in Rust, response headers for allowed origins (matched as
//! `origins` describes).

use std::fmt;

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::HttpResponse;
use pyo3::exceptions::PyValueError;
use pyo3::PyErr;

use super::errors::json_error;
use super::origins::{OriginError, OriginSet};

/// A CORS setting Rust refuses (ValueError).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsError {
    Origin(OriginError),
    AnyOriginWithCredentials,
    ExposeHeaders,
}

impl fmt::Display for CorsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Origin(e) => write!(f, "CORS: {e}"),
            Self::AnyOriginWithCredentials => f.write_str(
                "CORS allow_origins=[\"*\"] with allow_credentials=True would let any site make \
                 authenticated requests; list the trusted origins instead",
            ),
            Self::ExposeHeaders => f.write_str("invalid CORS expose_headers"),
        }
    }
}

impl std::error::Error for CorsError {}

impl From<CorsError> for PyErr {
    fn from(e: CorsError) -> Self {
        PyValueError::new_err(e.to_string())
    }
}

#[derive(Debug, Clone)]
pub struct CorsPolicy {
    origins: OriginSet,
    any_method: bool,
    methods: Vec<String>,
    any_header: bool,
    headers: Vec<String>,
    expose_headers: Option<HeaderValue>,
    credentials: bool,
    max_age: Option<u32>,
}

pub struct CorsSettings {
    pub origins: Vec<String>,
    pub methods: Vec<String>,
    pub headers: Vec<String>,
    pub expose_headers: Vec<String>,
    pub credentials: bool,
    pub max_age: Option<u32>,
}

const ACAO: HeaderName = HeaderName::from_static("access-control-allow-origin");
const ACAC: HeaderName = HeaderName::from_static("access-control-allow-credentials");
const ACAM: HeaderName = HeaderName::from_static("access-control-allow-methods");
const ACAH: HeaderName = HeaderName::from_static("access-control-allow-headers");
const ACEH: HeaderName = HeaderName::from_static("access-control-expose-headers");
const ACMA: HeaderName = HeaderName::from_static("access-control-max-age");
const ACRM: HeaderName = HeaderName::from_static("access-control-request-method");
const ACRH: HeaderName = HeaderName::from_static("access-control-request-headers");

impl CorsPolicy {
    pub fn new(s: CorsSettings) -> Result<Self, CorsError> {
        let origins = OriginSet::parse(&s.origins).map_err(CorsError::Origin)?;
        if origins.any && s.credentials {
            return Err(CorsError::AnyOriginWithCredentials);
        }
        let any_method = s.methods.iter().any(|m| m.trim() == "*");
        let methods = s
            .methods
            .iter()
            .filter(|m| m.trim() != "*")
            .map(|m| m.trim().to_ascii_uppercase())
            .collect();
        let any_header = s.headers.iter().any(|h| h.trim() == "*");
        let headers = s
            .headers
            .iter()
            .filter(|h| h.trim() != "*")
            .map(|h| h.trim().to_ascii_lowercase())
            .collect();
        let expose_headers = if s.expose_headers.is_empty() {
            None
        } else {
            Some(
                HeaderValue::from_str(&s.expose_headers.join(", "))
                    .map_err(|_| CorsError::ExposeHeaders)?,
            )
        };
        Ok(Self {
            origins,
            any_method,
            methods,
            any_header,
            headers,
            expose_headers,
            credentials: s.credentials,
            max_age: s.max_age,
        })
    }

    pub fn origin_allowed(&self, origin: &str) -> bool {
        self.origins.allows(origin)
    }

    fn method_allowed(&self, method: &str) -> bool {
        self.any_method || self.methods.iter().any(|m| m == method)
    }

    fn allow_origin_value(&self, origin: &HeaderValue) -> HeaderValue {
        if self.origins.any && !self.credentials {
            HeaderValue::from_static("*")
        } else {
            origin.clone()
        }
    }

    /// True for `OPTIONS` with `Origin` and `Access-Control-Request-Method`.
    pub fn is_preflight(method: &Method, headers: &HeaderMap) -> bool {
        method == Method::OPTIONS
            && headers.contains_key(actix_web::http::header::ORIGIN)
            && headers.contains_key(ACRM)
    }

    /// Answers a preflight request: 204 with the grants, or 403 naming what was refused.
    pub fn preflight(&self, headers: &HeaderMap) -> HttpResponse {
        let origin = headers.get(actix_web::http::header::ORIGIN).cloned();
        let origin_str = origin.as_ref().and_then(|o| o.to_str().ok()).unwrap_or("");
        if !self.origin_allowed(origin_str) {
            return vary(json_error(StatusCode::FORBIDDEN, "CORS origin not allowed"));
        }
        let requested = headers
            .get(ACRM)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .trim();
        if !self.method_allowed(requested) {
            return vary(json_error(StatusCode::FORBIDDEN, "CORS method not allowed"));
        }
        let requested_headers: Vec<String> = headers
            .get_all(ACRH)
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
        if !self.any_header {
            if let Some(bad) = requested_headers
                .iter()
                .find(|h| !self.headers.contains(h) && !is_safelisted(h))
            {
                return vary(json_error(
                    StatusCode::FORBIDDEN,
                    &format!("CORS header {bad:?} not allowed"),
                ));
            }
        }
        let mut resp = HttpResponse::NoContent().finish();
        let map = resp.headers_mut();
        if let Some(origin) = &origin {
            map.insert(ACAO, self.allow_origin_value(origin));
        }
        let methods = if self.any_method {
            requested.to_owned()
        } else {
            self.methods.join(", ")
        };
        if let Ok(v) = HeaderValue::from_str(&methods) {
            map.insert(ACAM, v);
        }
        let allow_headers = if self.any_header {
            requested_headers.join(", ")
        } else {
            self.headers.join(", ")
        };
        if !allow_headers.is_empty() {
            if let Ok(v) = HeaderValue::from_str(&allow_headers) {
                map.insert(ACAH, v);
            }
        }
        if self.credentials {
            map.insert(ACAC, HeaderValue::from_static("true"));
        }
        if let Some(age) = self.max_age {
            map.insert(ACMA, HeaderValue::from(age));
        }
        vary(resp)
    }

    /// Adds the CORS headers for an actual (non-preflight) request's response.
    pub fn apply(&self, origin: Option<&HeaderValue>, map: &mut HeaderMap) {
        let Some(origin) = origin else { return };
        if !origin.to_str().is_ok_and(|o| self.origin_allowed(o)) {
            add_vary_origin(map);
            return;
        }
        map.insert(ACAO, self.allow_origin_value(origin));
        if self.credentials {
            map.insert(ACAC, HeaderValue::from_static("true"));
        }
        if let Some(expose) = &self.expose_headers {
            map.insert(ACEH, expose.clone());
        }
        if !self.origins.any || self.credentials {
            add_vary_origin(map);
        }
    }
}

/// Headers a browser sends without asking (the CORS-safelisted request headers).
fn is_safelisted(h: &str) -> bool {
    matches!(
        h,
        "accept" | "accept-language" | "content-language" | "content-type" | "range"
    )
}

fn add_vary_origin(map: &mut HeaderMap) {
    let vary = actix_web::http::header::VARY;
    let present = map.get_all(&vary).filter_map(|v| v.to_str().ok()).any(|v| {
        v.split(',')
            .any(|p| p.trim().eq_ignore_ascii_case("origin"))
    });
    if !present {
        map.append(vary, HeaderValue::from_static("Origin"));
    }
}

fn vary(mut resp: HttpResponse) -> HttpResponse {
    add_vary_origin(resp.headers_mut());
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(origins: &[&str], credentials: bool) -> Result<CorsPolicy, CorsError> {
        CorsPolicy::new(CorsSettings {
            origins: origins.iter().map(|s| s.to_string()).collect(),
            methods: vec!["GET".into(), "POST".into()],
            headers: vec!["Authorization".into()],
            expose_headers: vec![],
            credentials,
            max_age: Some(600),
        })
    }

    #[test]
    fn exact_origins_only() {
        let p = policy(&["https://example.com", "http://localhost:3000/"], false).unwrap();
        assert!(p.origin_allowed("https://example.com"));
        assert!(p.origin_allowed("HTTPS://EXAMPLE.COM"));
        assert!(p.origin_allowed("http://localhost:3000"));
        assert!(!p.origin_allowed("https://example.com.evil.com"));
        assert!(!p.origin_allowed("https://evil-example.com"));
        assert!(!p.origin_allowed("http://example.com"));
        assert!(!p.origin_allowed("https://example.com:8443"));
        assert!(!p.origin_allowed("null"));
    }

    #[test]
    fn subdomain_patterns_and_null() {
        let p = policy(&["https://*.example.com", "null"], false).unwrap();
        assert!(p.origin_allowed("https://api.example.com"));
        assert!(p.origin_allowed("https://a.b.example.com"));
        assert!(!p.origin_allowed("https://example.com"));
        assert!(!p.origin_allowed("https://evilexample.com"));
        assert!(!p.origin_allowed("https://api.example.com.evil.com"));
        assert!(!p.origin_allowed("http://api.example.com"));
        assert!(p.origin_allowed("null"));
    }

    #[test]
    fn wildcard_with_credentials_is_refused() {
        assert!(policy(&["*"], true)
            .unwrap_err()
            .to_string()
            .contains("allow_credentials"));
        let p = policy(&["*"], false).unwrap();
        assert!(p.origin_allowed("https://anything.test"));
        assert!(!p.origin_allowed("null"));
        assert!(policy(&["example.com"], false).is_err());
    }
}
