//! Path and query parameters: percent-decoded after routing, refused when not UTF-8.

use actix_web::http::StatusCode;
use actix_web::HttpResponse;

use super::errors::json_error;

fn decode_param(raw: &str) -> Option<String> {
    if !raw.contains('%') {
        return Some(raw.to_owned());
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
            match u8::from_str_radix(hex, 16) {
                Ok(b) => {
                    out.push(b);
                    i += 3;
                    continue;
                }
                Err(_) => out.push(b'%'),
            }
        } else {
            out.push(bytes[i]);
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Every parameter decoded, or None when one is not valid UTF-8.
pub fn decode_params(params: Vec<(String, String)>) -> Option<Vec<(String, String)>> {
    params
        .into_iter()
        .map(|(name, raw)| decode_param(&raw).map(|v| (name, v)))
        .collect()
}

/// The answer to a path whose parameters are not UTF-8.
pub fn bad_path() -> HttpResponse {
    json_error(
        StatusCode::BAD_REQUEST,
        "The request path is not valid UTF-8",
    )
}

/// The answer to a query whose names or values do not decode to UTF-8 (400 naming the
/// parameter), or None when the query is sound. Handlers would otherwise see U+FFFD.
pub fn bad_query(query: &str) -> Option<HttpResponse> {
    if !query.contains('%') {
        return None;
    }
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decoded = |s: &str| percent_encoding::percent_decode(s.as_bytes()).collect::<Vec<u8>>();
        let raw_name = decoded(name);
        let name_ok = std::str::from_utf8(&raw_name).is_ok();
        if name_ok && std::str::from_utf8(&decoded(value)).is_ok() {
            continue;
        }
        let shown = String::from_utf8_lossy(&raw_name).replace('+', " ");
        let detail = if name_ok {
            format!("Query parameter {shown:?} is not valid UTF-8")
        } else {
            format!("A query parameter name ({shown:?}) is not valid UTF-8")
        };
        return Some(json_error(StatusCode::BAD_REQUEST, &detail));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_queries_that_are_not_utf8() {
        assert!(bad_query("").is_none());
        assert!(bad_query("q=caf%C3%A9&x=%2B1+2").is_none());
        assert!(bad_query("q=100%").is_none());
        let resp = bad_query("ok=1&name=%FF%FE").expect("refused");
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        assert!(bad_query("%C3=1").is_some());
    }

    #[test]
    fn decodes_percent_escapes_in_params() {
        assert_eq!(decode_param("plain").as_deref(), Some("plain"));
        assert_eq!(decode_param("a%20b").as_deref(), Some("a b"));
        assert_eq!(decode_param("caf%C3%A9").as_deref(), Some("café"));
        assert_eq!(decode_param("100%").as_deref(), Some("100%"));
        assert_eq!(decode_param("%zz").as_deref(), Some("%zz"));
        assert_eq!(decode_param("%FF%FE"), None);
    }
}
