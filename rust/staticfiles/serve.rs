//! Answering a request for a static file: GET and HEAD, 304 for If-None-Match /
//! If-Modified-Since, a single byte range (206 / 416), the precompressed sibling the client
//! accepts, and 404 for any path that is not exactly an indexed file.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use actix_web::body::SizedStream;
use actix_web::http::header::{
    HeaderMap, HeaderName, HeaderValue, HttpDate, ACCEPT_RANGES, ALLOW, CACHE_CONTROL,
    CONTENT_DISPOSITION, CONTENT_ENCODING, CONTENT_RANGE, CONTENT_TYPE, ETAG, IF_MODIFIED_SINCE,
    IF_NONE_MATCH, IF_RANGE, LAST_MODIFIED, RANGE, VARY,
};
use actix_web::http::{Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, HttpResponseBuilder};
use bytes::Bytes;
use futures_util::stream;

use super::encoding::{choose, Stored};
use super::index::{Entry, Representation, StaticIndex, CACHED_MAX};

const NOSNIFF: HeaderName = HeaderName::from_static("x-content-type-options");
const CHUNK: u64 = 64 * 1024;

fn plain(status: StatusCode, text: &'static str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((CONTENT_TYPE, "text/plain; charset=utf-8"))
        .insert_header((NOSNIFF, "nosniff"))
        .body(text)
}

fn not_found() -> HttpResponse {
    plain(StatusCode::NOT_FOUND, "Not Found")
}

/// The index key a request path names, or None for anything that could step outside the
/// indexed names: encoded slashes, backslashes or NULs, `.` / `..` / empty segments.
pub fn key_of(raw: &str) -> Option<String> {
    let lowered = raw.to_ascii_lowercase();
    if ["%2f", "%5c", "%00"]
        .iter()
        .any(|bad| lowered.contains(bad))
    {
        return None;
    }
    let decoded = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .ok()?;
    if decoded.is_empty() || decoded.contains(['\\', '\0']) {
        return None;
    }
    if decoded
        .split('/')
        .any(|seg| seg.is_empty() || seg == "." || seg == "..")
    {
        return None;
    }
    Some(decoded.into_owned())
}

fn etag_of(entry: &Entry, stored: Stored) -> String {
    match stored.token() {
        None => format!("\"{}\"", entry.etag),
        Some(token) => format!("\"{}-{}\"", entry.etag, token),
    }
}

/// If-None-Match, weak comparison: any listed tag (or `*`) equal to ours.
fn none_match(headers: &HeaderMap, etag: &str) -> Option<bool> {
    let value = headers.get(IF_NONE_MATCH)?.to_str().ok()?;
    Some(
        value
            .split(',')
            .map(str::trim)
            .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag),
    )
}

fn not_modified_since(headers: &HeaderMap, entry: &Entry) -> bool {
    headers
        .get(IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<HttpDate>().ok())
        .is_some_and(|since| StaticIndex::modified(entry) <= std::time::SystemTime::from(since))
}

enum Ranged {
    Whole,
    Part(u64, u64), // first and last byte, inclusive
    Unsatisfiable,
}

/// A single `bytes=` range of a file of `len` bytes; several ranges or a malformed header
/// mean the whole file (as RFC 9110 allows).
fn parse_range(value: &str, len: u64) -> Ranged {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return Ranged::Whole;
    };
    if spec.contains(',') {
        return Ranged::Whole;
    }
    let Some((start, end)) = spec.trim().split_once('-') else {
        return Ranged::Whole;
    };
    let (start, end) = (start.trim(), end.trim());
    let parsed = if start.is_empty() {
        match end.parse::<u64>() {
            Ok(0) => return Ranged::Unsatisfiable,
            Ok(n) => Some((len.saturating_sub(n), len.saturating_sub(1))),
            Err(_) => return Ranged::Whole,
        }
    } else {
        let Ok(first) = start.parse::<u64>() else {
            return Ranged::Whole;
        };
        let last = if end.is_empty() {
            len.saturating_sub(1)
        } else {
            match end.parse::<u64>() {
                Ok(last) if last >= first => last.min(len.saturating_sub(1)),
                _ => return Ranged::Whole,
            }
        };
        Some((first, last))
    };
    match parsed {
        Some((first, last)) if len > 0 && first < len => Ranged::Part(first, last),
        _ => Ranged::Unsatisfiable,
    }
}

/// If-Range: the range applies only while the file is still the one the client has.
fn range_still_valid(headers: &HeaderMap, entry: &Entry, etag: &str) -> bool {
    match headers.get(IF_RANGE).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(v) if v.starts_with('"') => v == etag,
        Some(v) => v.as_bytes() == entry.last_modified.as_bytes(),
    }
}

fn read_at(path: &Path, offset: u64, len: u64) -> std::io::Result<Bytes> {
    let mut file = std::fs::File::open(path)?;
    file.seek(SeekFrom::Start(offset))?;
    let mut buf = Vec::with_capacity(len as usize);
    file.take(len).read_to_end(&mut buf)?;
    Ok(Bytes::from(buf))
}

/// The bytes `first..=last` of a representation as a response body: from memory for small
/// files (read once, on the blocking pool), else streamed in chunks from the pool, so no
/// Actix worker waits on the disk.
async fn body(
    builder: &mut HttpResponseBuilder,
    rep: &Representation,
    first: u64,
    last: u64,
    head: bool,
) -> HttpResponse {
    let len = last + 1 - first;
    if head {
        return builder.body(SizedStream::new(
            len,
            stream::empty::<Result<Bytes, std::io::Error>>(),
        ));
    }
    if rep.len <= CACHED_MAX {
        let whole = match rep.cached.get() {
            Some(bytes) => bytes.clone(),
            None => {
                let (path, total) = (rep.path.clone(), rep.len);
                let read = web::block(move || read_at(&path, 0, total)).await;
                match read {
                    Ok(Ok(bytes)) if bytes.len() as u64 == rep.len => {
                        rep.cached.get_or_init(|| bytes).clone()
                    }
                    _ => return not_found(),
                }
            }
        };
        return builder.body(whole.slice(first as usize..=last as usize));
    }
    let path = rep.path.clone();
    let chunks = stream::unfold((first, len), move |(offset, remaining)| {
        let path = path.clone();
        async move {
            if remaining == 0 {
                return None;
            }
            let want = remaining.min(CHUNK);
            match web::block(move || read_at(&path, offset, want)).await {
                Ok(Ok(bytes)) if !bytes.is_empty() => {
                    let got = bytes.len() as u64;
                    Some((Ok(bytes), (offset + got, remaining - got)))
                }
                Ok(Err(e)) => Some((Err(e), (offset, 0))),
                _ => Some((
                    Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof)),
                    (offset, 0),
                )),
            }
        }
    });
    builder.body(SizedStream::new(len, chunks))
}

impl StaticIndex {
    /// The answer for `key` (a path below the mount), or 404.
    pub async fn answer(&self, req: &HttpRequest, raw_key: &str) -> HttpResponse {
        let head = req.method() == Method::HEAD;
        if !head && req.method() != Method::GET {
            let mut resp = plain(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
            resp.headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            return resp;
        }
        let Some(key) = key_of(raw_key) else {
            return not_found();
        };
        if let Some((root, options)) = &self.live {
            // Options and root are shared with the blocking pool through the index.
            let (root, options) = (root.clone(), options.clone());
            let found = web::block(move || StaticIndex::lookup_live(&root, &options, &key)).await;
            return match found {
                Ok(Some(entry)) => respond(req, &entry, head).await,
                _ => not_found(),
            };
        }
        match self.files.get(&key) {
            Some(entry) => respond(req, entry, head).await,
            None => not_found(),
        }
    }
}

/// The answer for one file: 304, 206 / 416, or the whole file in the chosen encoding.
async fn respond(req: &HttpRequest, entry: &Entry, head: bool) -> HttpResponse {
    let headers = req.headers();
    let wants_range = headers.contains_key(RANGE);
    let stored = if wants_range {
        Some(Stored::Identity)
    } else {
        choose(headers, entry.brotli.is_some(), entry.gzip.is_some())
    };
    let Some(stored) = stored else {
        return plain(StatusCode::NOT_ACCEPTABLE, "Not Acceptable");
    };
    let rep = match stored {
        Stored::Identity => &entry.identity,
        Stored::Gzip => entry.gzip.as_ref().unwrap_or(&entry.identity),
        Stored::Brotli => entry.brotli.as_ref().unwrap_or(&entry.identity),
    };
    let etag = etag_of(entry, stored);
    let mut builder = HttpResponse::build(StatusCode::OK);
    builder
        .insert_header((ETAG, etag.as_str()))
        .insert_header((LAST_MODIFIED, entry.last_modified.clone()))
        .insert_header((CACHE_CONTROL, entry.cache_control.clone()))
        .insert_header((NOSNIFF, "nosniff"));
    if entry.gzip.is_some() || entry.brotli.is_some() {
        builder.insert_header((VARY, "Accept-Encoding"));
    }
    let fresh = match none_match(headers, &etag) {
        Some(matched) => matched,
        None => not_modified_since(headers, entry),
    };
    if fresh {
        builder.status(StatusCode::NOT_MODIFIED);
        return builder.finish();
    }
    builder
        .insert_header((CONTENT_TYPE, entry.content_type.clone()))
        .insert_header((ACCEPT_RANGES, "bytes"));
    if let Some(token) = stored.token() {
        builder.insert_header((CONTENT_ENCODING, token));
    }
    if entry.attachment {
        builder.insert_header((CONTENT_DISPOSITION, "attachment"));
    }
    let len = rep.len;
    let range = match headers.get(RANGE).and_then(|v| v.to_str().ok()) {
        Some(value) if range_still_valid(headers, entry, &etag) => parse_range(value, len),
        _ => Ranged::Whole,
    };
    match range {
        Ranged::Whole if len == 0 => builder.body(Bytes::new()),
        Ranged::Whole => body(&mut builder, rep, 0, len - 1, head).await,
        Ranged::Part(first, last) => {
            builder
                .status(StatusCode::PARTIAL_CONTENT)
                .insert_header((CONTENT_RANGE, format!("bytes {first}-{last}/{len}")));
            body(&mut builder, rep, first, last, head).await
        }
        Ranged::Unsatisfiable => {
            builder
                .status(StatusCode::RANGE_NOT_SATISFIABLE)
                .insert_header((CONTENT_RANGE, format!("bytes */{len}")));
            builder.finish()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_refuse_anything_that_could_leave_the_index() {
        assert_eq!(
            key_of("admin/css/base.css").as_deref(),
            Some("admin/css/base.css")
        );
        assert_eq!(key_of("a%20b.txt").as_deref(), Some("a b.txt"));
        for bad in [
            "../etc/passwd",
            "a/../../b",
            "a/./b",
            "a//b",
            "%2e%2e/secret",
            "a%2fb",
            "a%2Fb",
            "a%5cb",
            "a\\b",
            "a%00b",
            "/etc/passwd",
            "",
            "%ff",
        ] {
            assert_eq!(key_of(bad), None, "{bad}");
        }
    }

    #[test]
    fn ranges() {
        assert!(matches!(parse_range("bytes=0-9", 100), Ranged::Part(0, 9)));
        assert!(matches!(
            parse_range("bytes=90-", 100),
            Ranged::Part(90, 99)
        ));
        assert!(matches!(
            parse_range("bytes=-10", 100),
            Ranged::Part(90, 99)
        ));
        assert!(matches!(
            parse_range("bytes=95-200", 100),
            Ranged::Part(95, 99)
        ));
        assert!(matches!(
            parse_range("bytes=100-", 100),
            Ranged::Unsatisfiable
        ));
        assert!(matches!(
            parse_range("bytes=-0", 100),
            Ranged::Unsatisfiable
        ));
        assert!(matches!(parse_range("bytes=5-2", 100), Ranged::Whole));
        assert!(matches!(parse_range("bytes=0-1,5-6", 100), Ranged::Whole));
        assert!(matches!(parse_range("items=0-1", 100), Ranged::Whole));
    }
}
