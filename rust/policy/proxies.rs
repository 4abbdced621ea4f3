//! Trusted proxies (`BOLT_TRUSTED_PROXIES`): which peers may name the client in
//! X-Forwarded-For.

use std::fmt;
use std::net::IpAddr;

use actix_web::http::header::HeaderMap;
use pyo3::exceptions::PyValueError;
use pyo3::PyErr;

/// A trusted proxy entry that is not an address or network (ValueError).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetError {
    Address(String),
    Prefix(String),
}

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Address(text) => write!(f, "invalid trusted proxy address {text:?}"),
            Self::Prefix(text) => write!(f, "invalid trusted proxy prefix in {text:?}"),
        }
    }
}

impl std::error::Error for NetError {}

impl From<NetError> for PyErr {
    fn from(e: NetError) -> Self {
        PyValueError::new_err(e.to_string())
    }
}

/// An IP network for `BOLT_TRUSTED_PROXIES`.
#[derive(Debug, Clone)]
pub struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl Net {
    /// An address, a network (`10.0.0.0/8`), or `*` for every address.
    pub fn parse(text: &str) -> Result<Self, NetError> {
        if text.trim() == "*" {
            return Ok(Self {
                addr: IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
                prefix: 0,
            });
        }
        let (ip, prefix) = match text.split_once('/') {
            Some((ip, p)) => (ip, Some(p)),
            None => (text, None),
        };
        let addr: IpAddr = ip
            .trim()
            .parse()
            .map_err(|_| NetError::Address(text.to_owned()))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| NetError::Prefix(text.to_owned()))?,
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
            // `*` (the whole IPv6 space) takes IPv4 peers too.
            (IpAddr::V6(_), IpAddr::V4(_)) => self.prefix == 0,
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
    let mut forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    if forwarded.is_empty() {
        forwarded = forwarded_params(headers, "for")
            .filter_map(|v| parse_node(&v))
            .collect();
    }
    let mut candidate = peer;
    for ip in forwarded.iter().rev() {
        candidate = *ip;
        if !is_trusted(ip) {
            break;
        }
    }
    Some(candidate)
}

/// The values of one parameter of RFC 7239 `Forwarded` headers, nearest proxy last.
fn forwarded_params<'a>(headers: &'a HeaderMap, key: &'a str) -> impl Iterator<Item = String> + 'a {
    headers
        .get_all("forwarded")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(move |element| {
            element.split(';').find_map(|pair| {
                let (k, v) = pair.split_once('=')?;
                k.trim()
                    .eq_ignore_ascii_case(key)
                    .then(|| v.trim().trim_matches('"').to_owned())
            })
        })
}

/// An address of a `Forwarded: for=` node: `1.2.3.4`, `1.2.3.4:80`, `[::1]:80`.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    node.split(':')
        .next()?
        .parse()
        .ok()
        .or_else(|| node.parse().ok())
}

/// The scheme the client used, as a trusted proxy reports it (`X-Forwarded-Proto`, else
/// `Forwarded: proto=`): "https" or "http", None when it says nothing usable.
pub fn forwarded_scheme(headers: &HeaderMap) -> Option<&'static str> {
    let reported = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .or_else(|| {
            forwarded_params(headers, "proto")
                .next()
                .map(|v| v.to_ascii_lowercase())
        })?;
    match reported.as_str() {
        "https" | "wss" => Some("https"),
        "http" | "ws" => Some("http"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

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
        let all = Net::parse("*").unwrap();
        assert!(all.contains(&"9.9.9.9".parse().unwrap()) && all.contains(&"::2".parse().unwrap()));
    }

    #[test]
    fn rfc_7239_forwarded_and_schemes() {
        let trusted = vec![Net::parse("127.0.0.1").unwrap()];
        let mut h = HeaderMap::new();
        h.insert(
            HeaderName::from_static("forwarded"),
            HeaderValue::from_static("for=\"[2001:db8::1]:4711\";proto=https, for=127.0.0.1"),
        );
        let peer: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(
            client_ip(Some(peer), &h, &trusted),
            Some("2001:db8::1".parse().unwrap())
        );
        assert_eq!(forwarded_scheme(&h), Some("https"));
        h.insert(
            HeaderName::from_static("x-forwarded-proto"),
            HeaderValue::from_static("http"),
        );
        assert_eq!(forwarded_scheme(&h), Some("http"));
        assert_eq!(forwarded_scheme(&HeaderMap::new()), None);
    }
}
