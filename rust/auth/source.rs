//! Where a credential is read from: a header (with or without a scheme), a cookie, or a
//! query parameter.

use actix_web::http::header::{HeaderMap, HeaderName, COOKIE};

/// Where a credential is read from.
#[derive(Debug, Clone)]
pub struct CredentialSource {
    pub header: HeaderName,
    /// `Bearer` for `Authorization: Bearer <token>`; empty for the raw header value.
    pub scheme: String,
    pub cookie: Option<String>,
    pub query: Option<String>,
}

impl CredentialSource {
    /// `Authorization: Bearer <token>`.
    pub fn authorization_bearer() -> Self {
        Self {
            header: actix_web::http::header::AUTHORIZATION,
            scheme: "Bearer".into(),
            cookie: None,
            query: None,
        }
    }

    /// The credential from the header (with the scheme stripped), else the cookie, else the
    /// query parameter. A header with another scheme counts as absent for this source.
    pub fn find<'a>(&self, headers: &'a HeaderMap, query: &'a str) -> Option<String> {
        if let Some(value) = headers.get(&self.header) {
            let raw = value.to_str().ok()?.trim();
            if self.scheme.is_empty() {
                return (!raw.is_empty()).then(|| raw.to_owned());
            }
            let (scheme, rest) = raw.split_once(' ').unwrap_or((raw, ""));
            if scheme.eq_ignore_ascii_case(&self.scheme) {
                let token = rest.trim();
                return (!token.is_empty()).then(|| token.to_owned());
            }
            if self.cookie.is_none() && self.query.is_none() {
                return None;
            }
        }
        if let Some(name) = &self.cookie {
            for value in headers.get_all(COOKIE) {
                let Ok(text) = value.to_str() else { continue };
                for pair in text.split(';') {
                    if let Some((k, v)) = pair.trim().split_once('=') {
                        if k == name && !v.is_empty() {
                            return Some(v.trim_matches('"').to_owned());
                        }
                    }
                }
            }
        }
        if let Some(name) = &self.query {
            for (k, v) in form_urlencoded::parse(query.as_bytes()) {
                if k == name.as_str() && !v.is_empty() {
                    return Some(v.into_owned());
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderValue, AUTHORIZATION};

    #[test]
    fn reads_credentials_from_header_cookie_and_query() {
        let source = CredentialSource {
            header: AUTHORIZATION,
            scheme: "Bearer".into(),
            cookie: Some("jwt".into()),
            query: Some("token".into()),
        };
        let mut headers = HeaderMap::new();
        assert_eq!(source.find(&headers, "token=q1"), Some("q1".into()));
        headers.insert(COOKIE, HeaderValue::from_static("a=1; jwt=c1"));
        assert_eq!(source.find(&headers, ""), Some("c1".into()));
        headers.insert(AUTHORIZATION, HeaderValue::from_static("bearer h1"));
        assert_eq!(source.find(&headers, ""), Some("h1".into()));
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Basic xyz"));
        assert_eq!(source.find(&headers, ""), Some("c1".into()));
    }
}
