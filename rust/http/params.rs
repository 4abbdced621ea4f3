//! Path parameters: percent-decoded after routing, refused when not UTF-8.

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

#[cfg(test)]
mod tests {
    use super::*;

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
