//! Error answers Rust writes: JSON (`{"detail": ...}`) for API clients, a small HTML page
//! for browsers on Django's paths.

use actix_web::http::header::{HeaderMap, HeaderValue, ACCEPT, CONTENT_TYPE};
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use bytes::Bytes;

/// Writes `s` as a JSON string literal.
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

pub fn json_error(status: StatusCode, detail: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("application/json")
        .body(format!("{{\"detail\":{}}}", json_string(detail)))
}

/// `json_error` for a fixed body (`{"detail": ...}` written out), without formatting.
pub fn static_error(status: StatusCode, body: &'static [u8]) -> HttpResponse {
    let mut resp = HttpResponse::with_body(status, Bytes::from_static(body));
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp.map_into_boxed_body()
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

/// A page in the shape of Django's own plain error pages.
pub fn html_error(status: StatusCode, detail: &str) -> HttpResponse {
    let title = format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error")
    );
    let title = html_escape(&title);
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(format!(
            "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <title>{title}</title>\n</head>\n<body>\n<h1>{title}</h1>\n<p>{}</p>\n\
             </body>\n</html>\n",
            html_escape(detail)
        ))
}

/// True when the client's Accept header takes HTML (a browser), q=0 excluded.
pub fn accepts_html(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|range| {
            let mut params = range.split(';');
            let media = params.next().unwrap_or("").trim();
            let html = media.eq_ignore_ascii_case("text/html")
                || media.eq_ignore_ascii_case("application/xhtml+xml");
            html && !params.any(|p| {
                let p = p.trim();
                p.get(..2).is_some_and(|k| k.eq_ignore_ascii_case("q="))
                    && p[2..].trim().parse::<f32>().is_ok_and(|q| q <= 0.0)
            })
        })
}

/// An error in the client's language: HTML when `html`, JSON otherwise.
pub fn error_for(status: StatusCode, detail: &str, html: bool) -> HttpResponse {
    if html {
        html_error(status, detail)
    } else {
        json_error(status, detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderName;

    #[test]
    fn escapes_json_strings() {
        assert_eq!(json_string("a\"b\\c\n\u{1}"), "\"a\\\"b\\\\c\\n\\u0001\"");
    }

    fn accept(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append(
                HeaderName::from_static("accept"),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    #[test]
    fn browsers_get_html_and_api_clients_json() {
        let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
        assert!(accepts_html(&accept(&[browser])));
        assert!(accepts_html(&accept(&[
            "application/json",
            "TEXT/HTML; q=0.5"
        ])));
        assert!(!accepts_html(&accept(&["application/json"])));
        assert!(!accepts_html(&accept(&["*/*"])));
        assert!(!accepts_html(&accept(&[
            "text/html;q=0",
            "application/json"
        ])));
        assert!(!accepts_html(&HeaderMap::new()));
    }

    #[test]
    fn html_errors_escape_their_detail() {
        let resp = html_error(StatusCode::PAYLOAD_TOO_LARGE, "<script>&");
        assert_eq!(
            resp.headers().get(CONTENT_TYPE).unwrap(),
            "text/html; charset=utf-8"
        );
        let body = actix_web::body::to_bytes(resp.into_body());
        let body = futures_executor::block_on(body).unwrap();
        let text = std::str::from_utf8(&body).unwrap();
        assert!(text.contains("<title>413 Payload Too Large</title>"));
        assert!(text.contains("<p>&lt;script&gt;&amp;</p>"));
    }
}
