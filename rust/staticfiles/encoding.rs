//! Which stored representation of a file a client gets, from its Accept-Encoding.

use actix_web::http::header::HeaderMap;

use crate::http::compress::accept_encodings;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    Identity,
    Gzip,
    Brotli,
}

impl Stored {
    pub fn token(self) -> Option<&'static str> {
        match self {
            Self::Identity => None,
            Self::Gzip => Some("gzip"),
            Self::Brotli => Some("br"),
        }
    }
}

/// The q-value the client gives `token` (an exact entry first, else `*`). An unlisted
/// `identity` stays acceptable, below anything the client names.
fn quality(listed: &[(String, f32)], token: &str) -> f32 {
    let find = |name: &str| listed.iter().find(|(n, _)| n == name).map(|(_, q)| *q);
    find(token)
        .or_else(|| find("*"))
        .unwrap_or(if token == "identity" { 0.001 } else { 0.0 })
}

/// The best of the representations on disk for this client: the highest q-value, Brotli
/// before gzip before the plain file when they tie. None when the client refuses every
/// one of them (`identity;q=0` and no acceptable sibling).
pub fn choose(headers: &HeaderMap, has_br: bool, has_gz: bool) -> Option<Stored> {
    let listed = accept_encodings(headers);
    if listed.is_empty() {
        return Some(Stored::Identity);
    }
    let mut best = (0.0f32, None);
    for (stored, present, token) in [
        (Stored::Brotli, has_br, "br"),
        (Stored::Gzip, has_gz, "gzip"),
        (Stored::Identity, true, "identity"),
    ] {
        let q = if present {
            quality(&listed, token)
        } else {
            0.0
        };
        if q > best.0 {
            best = (q, Some(stored));
        }
    }
    best.1
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderValue, ACCEPT_ENCODING};

    fn with(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(ACCEPT_ENCODING, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn prefers_brotli_then_gzip_then_the_file() {
        assert_eq!(choose(&with("gzip, br"), true, true), Some(Stored::Brotli));
        assert_eq!(choose(&with("gzip, br"), false, true), Some(Stored::Gzip));
        assert_eq!(choose(&with("gzip"), true, false), Some(Stored::Identity));
        assert_eq!(
            choose(&HeaderMap::new(), true, true),
            Some(Stored::Identity)
        );
    }

    #[test]
    fn honours_q_values() {
        assert_eq!(
            choose(&with("br;q=0.5, gzip"), true, true),
            Some(Stored::Gzip)
        );
        assert_eq!(
            choose(&with("br;q=0, gzip;q=0"), true, true),
            Some(Stored::Identity)
        );
        assert_eq!(
            choose(&with("*;q=0.2, br;q=0"), true, true),
            Some(Stored::Gzip)
        );
        assert_eq!(choose(&with("identity;q=0, br"), false, false), None);
        assert_eq!(choose(&with("BR;q=1.0"), true, false), Some(Stored::Brotli));
        assert_eq!(
            choose(&with("br;q=0.4, gzip;q=0.8"), true, true),
            Some(Stored::Gzip)
        );
        assert_eq!(
            choose(&with("gzip;q=0.5, identity"), true, true),
            Some(Stored::Identity)
        );
    }
}
