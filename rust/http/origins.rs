//! Which origins may talk to a route: the allowed-origin list CORS and WebSocket
//! handshakes share, and the WebSocket origin check that also accepts Django's
//! `ALLOWED_HOSTS`.
//!
//! Origins match exactly (scheme, host and port, case-insensitively), or by an explicit
//! subdomain pattern `https://*.example.com`; never by prefix or substring, so
//! `https://example.com.evil.com` is not `https://example.com`. `Origin: null` matches
//! only when "null" is listed.

use std::fmt;

use pyo3::exceptions::PyValueError;
use pyo3::PyErr;

/// An origin list entry that is neither an origin, a pattern, "null" nor "*" (ValueError).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginError {
    Pattern(String),
    Origin(String),
}

impl fmt::Display for OriginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Pattern(origin) => write!(f, "invalid origin pattern {origin:?}"),
            Self::Origin(origin) => write!(
                f,
                "invalid origin {origin:?}: use scheme://host[:port], \
                 scheme://*.domain, \"null\" or \"*\""
            ),
        }
    }
}

impl std::error::Error for OriginError {}

impl From<OriginError> for PyErr {
    fn from(e: OriginError) -> Self {
        PyValueError::new_err(e.to_string())
    }
}

/// A list of allowed origins: exact ones, `scheme://*.domain` patterns, "null", "*".
#[derive(Debug, Clone, Default)]
pub struct OriginSet {
    pub any: bool,
    exact: Vec<String>,
    /// (scheme + "://", ".example.com") for `scheme://*.example.com`.
    wildcard: Vec<(String, String)>,
}

fn normalize_origin(origin: &str) -> String {
    origin.trim().trim_end_matches('/').to_ascii_lowercase()
}

impl OriginSet {
    pub fn parse(list: &[String]) -> Result<Self, OriginError> {
        let mut set = Self::default();
        for origin in list {
            let o = normalize_origin(origin);
            if o == "*" {
                set.any = true;
            } else if let Some((scheme, rest)) = o.split_once("://*.") {
                if rest.is_empty() || rest.contains(['*', '/']) {
                    return Err(OriginError::Pattern(origin.clone()));
                }
                set.wildcard
                    .push((format!("{scheme}://"), format!(".{rest}")));
            } else if o == "null" || (o.contains("://") && !o.contains('*')) {
                set.exact.push(o);
            } else {
                return Err(OriginError::Origin(origin.clone()));
            }
        }
        Ok(set)
    }

    pub fn allows(&self, origin: &str) -> bool {
        let o = normalize_origin(origin);
        if o == "null" {
            return self.exact.iter().any(|x| x == "null");
        }
        if self.any || self.exact.contains(&o) {
            return true;
        }
        self.wildcard.iter().any(|(scheme, suffix)| {
            o.strip_prefix(scheme.as_str()).is_some_and(|host| {
                host.len() > suffix.len()
                    && host.ends_with(suffix.as_str())
                    && !host.contains(['/', '@', '?', '#'])
            })
        })
    }
}

/// Which pages may open a route's WebSockets, checked against the handshake's `Origin`
/// (browsers always send it; other clients need not, and are let through).
pub struct OriginCheck {
    origins: OriginSet,
    /// Django `ALLOWED_HOSTS` patterns: "*", "example.com", ".example.com".
    hosts: Vec<String>,
}

impl OriginCheck {
    pub fn new(origins: &[String], hosts: &[String]) -> Result<Self, OriginError> {
        Ok(Self {
            origins: OriginSet::parse(origins)?,
            hosts: hosts
                .iter()
                .map(|h| h.trim().to_ascii_lowercase())
                .collect(),
        })
    }

    pub fn allows(&self, origin: Option<&str>) -> bool {
        let Some(origin) = origin else { return true };
        if self.origins.allows(origin) {
            return true;
        }
        let Some(host) = origin_host(origin) else {
            return false;
        };
        self.hosts.iter().any(|pattern| {
            pattern == "*"
                || *pattern == host
                || pattern.strip_prefix('.').is_some_and(|domain| {
                    host == domain
                        || host
                            .strip_suffix(domain)
                            .is_some_and(|sub| sub.ends_with('.'))
                })
        })
    }
}

/// The host of an origin (`https://Example.com:8443` -> `example.com`), lower-cased.
fn origin_host(origin: &str) -> Option<String> {
    let (_, rest) = origin.trim().split_once("://")?;
    if rest.is_empty() || rest.contains(['/', '@', '?', '#']) {
        return None;
    }
    let host = if let Some(v6) = rest.strip_prefix('[') {
        &rest[..v6.find(']')? + 2]
    } else {
        rest.rsplit_once(':').map_or(rest, |(h, _)| h)
    };
    Some(host.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(origins: &[&str], hosts: &[&str]) -> OriginCheck {
        let own = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        OriginCheck::new(&own(origins), &own(hosts)).unwrap()
    }

    #[test]
    fn origins_by_allowed_hosts() {
        let c = check(&[], &["example.com", ".example.org", "[::1]"]);
        assert!(c.allows(None));
        assert!(c.allows(Some("https://example.com")));
        assert!(c.allows(Some("http://EXAMPLE.com:8000")));
        assert!(!c.allows(Some("https://www.example.com")));
        assert!(c.allows(Some("https://example.org")));
        assert!(c.allows(Some("https://chat.example.org")));
        assert!(!c.allows(Some("https://badexample.org")));
        assert!(!c.allows(Some("https://example.org.evil.test")));
        assert!(c.allows(Some("http://[::1]:8000")));
        assert!(!c.allows(Some("null")));
        assert!(!c.allows(Some("https://example.com@evil.test")));
        assert!(!c.allows(Some("example.com")));
    }

    #[test]
    fn explicit_origins() {
        let c = check(&["https://app.example.com", "https://*.example.net"], &[]);
        assert!(c.allows(Some("https://app.example.com")));
        assert!(!c.allows(Some("http://app.example.com")));
        assert!(c.allows(Some("https://x.example.net")));
        assert!(!c.allows(Some("https://evil.test")));
        assert!(check(&["*"], &[]).allows(Some("https://evil.test")));
        assert_eq!(
            OriginSet::parse(&["example.com".into()]).unwrap_err().to_string(),
            "invalid origin \"example.com\": use scheme://host[:port], scheme://*.domain, \"null\" or \"*\""
        );
    }
}
