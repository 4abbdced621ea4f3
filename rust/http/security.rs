//! The headers Django's SecurityMiddleware and XFrameOptionsMiddleware give every Django
//! page, computed once from the settings and added to API answers in Rust.

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};

pub struct SecurityHeaders {
    /// Added to every answer that does not set them itself.
    pub always: Vec<(HeaderName, HeaderValue)>,
    /// Strict-Transport-Security, for secure requests only.
    pub hsts: Option<HeaderValue>,
    /// SECURE_PROXY_SSL_HEADER: the request header and the value that means https.
    pub secure_proxy: Option<(HeaderName, String)>,
}

static HSTS: HeaderName = HeaderName::from_static("strict-transport-security");

impl SecurityHeaders {
    /// A request is secure as Django decides: when SECURE_PROXY_SSL_HEADER is set and the
    /// request carries that header, its first value decides; otherwise the connection
    /// does (`tls`: runbolt's own TLS).
    fn is_secure(&self, request: &HeaderMap, tls: bool) -> bool {
        let Some((name, expected)) = &self.secure_proxy else {
            return tls;
        };
        match request.get(name) {
            Some(value) => value
                .to_str()
                .ok()
                .and_then(|v| v.split(',').next())
                .is_some_and(|first| first.trim() == expected),
            None => tls,
        }
    }

    /// Adds the headers the answer does not carry already (as Django's middleware does).
    pub fn apply(&self, request: &HeaderMap, tls: bool, response: &mut HeaderMap) {
        for (name, value) in &self.always {
            if !response.contains_key(name) {
                response.insert(name.clone(), value.clone());
            }
        }
        if let Some(hsts) = &self.hsts {
            if !response.contains_key(&HSTS) && self.is_secure(request, tls) {
                response.insert(HSTS.clone(), hsts.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        map
    }

    fn policy() -> SecurityHeaders {
        SecurityHeaders {
            always: vec![
                (
                    HeaderName::from_static("x-content-type-options"),
                    HeaderValue::from_static("nosniff"),
                ),
                (
                    HeaderName::from_static("x-frame-options"),
                    HeaderValue::from_static("DENY"),
                ),
            ],
            hsts: Some(HeaderValue::from_static("max-age=60")),
            secure_proxy: Some((HeaderName::from_static("x-forwarded-proto"), "https".into())),
        }
    }

    #[test]
    fn adds_missing_headers_and_keeps_the_answers_own() {
        let mut response = headers(&[("x-frame-options", "SAMEORIGIN")]);
        policy().apply(&HeaderMap::new(), false, &mut response);
        assert_eq!(response.get("x-frame-options").unwrap(), "SAMEORIGIN");
        assert_eq!(response.get("x-content-type-options").unwrap(), "nosniff");
        assert!(response.get("strict-transport-security").is_none());
    }

    #[test]
    fn hsts_only_when_the_proxy_says_https() {
        let secure = headers(&[("x-forwarded-proto", "https, http")]);
        let mut response = HeaderMap::new();
        policy().apply(&secure, false, &mut response);
        assert_eq!(
            response.get("strict-transport-security").unwrap(),
            "max-age=60"
        );

        let plain = headers(&[("x-forwarded-proto", "http")]);
        let mut response = HeaderMap::new();
        policy().apply(&plain, false, &mut response);
        assert!(response.get("strict-transport-security").is_none());
    }

    #[test]
    fn hsts_on_runbolts_own_tls_unless_the_proxy_header_says_otherwise() {
        let mut response = HeaderMap::new();
        policy().apply(&HeaderMap::new(), true, &mut response);
        assert_eq!(
            response.get("strict-transport-security").unwrap(),
            "max-age=60"
        );

        let plain = headers(&[("x-forwarded-proto", "http")]);
        let mut response = HeaderMap::new();
        policy().apply(&plain, true, &mut response);
        assert!(response.get("strict-transport-security").is_none());

        let no_proxy_setting = SecurityHeaders {
            secure_proxy: None,
            ..policy()
        };
        let mut response = HeaderMap::new();
        no_proxy_setting.apply(&HeaderMap::new(), true, &mut response);
        assert!(response.get("strict-transport-security").is_some());
    }
}
