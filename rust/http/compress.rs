//! Response compression (gzip, brotli, zstd), negotiated from Accept-Encoding.
//!
//! Whole bodies are compressed in one pass; streamed bodies chunk by chunk with a flush
//! after each chunk, so server-sent events still arrive as they are produced.

use std::fmt;
use std::io::Write;
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::http::header::{HeaderMap, HeaderValue, CONTENT_ENCODING, CONTENT_TYPE, VARY};
use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse};
use bytes::Bytes;
use pyo3::exceptions::PyValueError;
use pyo3::PyErr;

/// A compression backend Rust does not have (ValueError).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownEncoding(pub String);

impl fmt::Display for UnknownEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unsupported compression backend {:?} (use gzip, brotli or zstd)",
            self.0
        )
    }
}

impl std::error::Error for UnknownEncoding {}

impl From<UnknownEncoding> for PyErr {
    fn from(e: UnknownEncoding) -> Self {
        PyValueError::new_err(e.to_string())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Gzip,
    Brotli,
    Zstd,
}

impl Encoding {
    pub fn parse(name: &str) -> Result<Self, UnknownEncoding> {
        match name.to_ascii_lowercase().as_str() {
            "gzip" => Ok(Self::Gzip),
            "br" | "brotli" => Ok(Self::Brotli),
            "zstd" => Ok(Self::Zstd),
            other => Err(UnknownEncoding(other.to_owned())),
        }
    }

    fn token(self) -> &'static str {
        match self {
            Self::Gzip => "gzip",
            Self::Brotli => "br",
            Self::Zstd => "zstd",
        }
    }
}

#[derive(Debug, Clone)]
pub struct CompressionPolicy {
    pub backend: Encoding,
    pub minimum_size: usize,
    /// Use gzip for clients that do not accept the preferred backend.
    pub gzip_fallback: bool,
}

/// Each coding a client lists in its Accept-Encoding headers, with its q-value (1 when
/// not given), in the order listed.
pub fn accept_encodings(headers: &HeaderMap) -> Vec<(String, f32)> {
    let mut out = Vec::new();
    for value in headers.get_all(actix_web::http::header::ACCEPT_ENCODING) {
        let Ok(text) = value.to_str() else { continue };
        for item in text.split(',') {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            if name.is_empty() {
                continue;
            }
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .filter_map(|q| q.trim().parse::<f32>().ok())
                .next()
                .unwrap_or(1.0)
                .clamp(0.0, 1.0);
            out.push((name, q));
        }
    }
    out
}

/// The encodings a client accepts (q > 0).
fn accepted(headers: &HeaderMap) -> Vec<(String, bool)> {
    accept_encodings(headers)
        .into_iter()
        .map(|(name, q)| (name, q > 0.0))
        .collect()
}

fn accepts(list: &[(String, bool)], token: &str) -> bool {
    if let Some((_, ok)) = list.iter().find(|(n, _)| n == token) {
        return *ok;
    }
    list.iter()
        .find(|(n, _)| n == "*")
        .is_some_and(|(_, ok)| *ok)
}

fn compressible(content_type: Option<&HeaderValue>) -> bool {
    let Some(ct) = content_type.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let ct = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    ct.starts_with("text/")
        || ct.ends_with("json")
        || ct.ends_with("+xml")
        || ct.ends_with("/xml")
        || ct.ends_with("javascript")
        || ct == "image/svg+xml"
        || ct == "application/wasm"
}

impl CompressionPolicy {
    pub fn negotiate(&self, request: &HeaderMap) -> Option<Encoding> {
        let list = accepted(request);
        if list.is_empty() {
            return None;
        }
        if accepts(&list, self.backend.token()) {
            return Some(self.backend);
        }
        if self.gzip_fallback && accepts(&list, "gzip") {
            return Some(Encoding::Gzip);
        }
        None
    }

    /// Whether a response with these headers and status may be compressed.
    pub fn applies(&self, status: u16, headers: &HeaderMap) -> bool {
        (200..300).contains(&status)
            && status != 204
            && status != 206
            && !headers.contains_key(CONTENT_ENCODING)
            && !headers.contains_key(actix_web::http::header::CONTENT_RANGE)
            && !headers
                .get(actix_web::http::header::CACHE_CONTROL)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.to_ascii_lowercase().contains("no-transform"))
            && compressible(headers.get(CONTENT_TYPE))
    }
}

/// Marks a response as compressed with `enc` (and varying on Accept-Encoding).
fn mark(headers: &mut HeaderMap, enc: Encoding) {
    headers.insert(CONTENT_ENCODING, HeaderValue::from_static(enc.token()));
    headers.remove(actix_web::http::header::CONTENT_LENGTH);
    headers.remove(actix_web::http::header::ETAG);
    headers.append(VARY, HeaderValue::from_static("Accept-Encoding"));
}

/// A writer whose output is taken out after every flush.
#[derive(Default)]
struct Sink(Vec<u8>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

enum Encoder {
    Gzip(flate2::write::GzEncoder<Sink>),
    Brotli(Box<brotli::CompressorWriter<Sink>>),
    Zstd(zstd::stream::write::Encoder<'static, Sink>),
}

impl Encoder {
    fn new(enc: Encoding) -> std::io::Result<Self> {
        Ok(match enc {
            Encoding::Gzip => Self::Gzip(flate2::write::GzEncoder::new(
                Sink::default(),
                flate2::Compression::new(5),
            )),
            Encoding::Brotli => Self::Brotli(Box::new(brotli::CompressorWriter::new(
                Sink::default(),
                4096,
                4,
                22,
            ))),
            Encoding::Zstd => Self::Zstd(zstd::stream::write::Encoder::new(Sink::default(), 3)?),
        })
    }

    fn sink(&mut self) -> &mut Sink {
        match self {
            Self::Gzip(e) => e.get_mut(),
            Self::Brotli(e) => e.get_mut(),
            Self::Zstd(e) => e.get_mut(),
        }
    }

    /// Compresses `chunk` and returns everything produced so far (flushed).
    fn chunk(&mut self, chunk: &[u8]) -> std::io::Result<Bytes> {
        match self {
            Self::Gzip(e) => {
                e.write_all(chunk)?;
                e.flush()?
            }
            Self::Brotli(e) => {
                e.write_all(chunk)?;
                e.flush()?
            }
            Self::Zstd(e) => {
                e.write_all(chunk)?;
                e.flush()?
            }
        }
        Ok(Bytes::from(std::mem::take(&mut self.sink().0)))
    }

    fn finish(self) -> std::io::Result<Bytes> {
        let sink = match self {
            Self::Gzip(e) => e.finish()?,
            Self::Brotli(mut e) => {
                // into_inner finishes the brotli stream into the sink.
                e.flush()?;
                e.into_inner()
            }
            Self::Zstd(e) => e.finish()?,
        };
        Ok(Bytes::from(sink.0))
    }
}

/// Compresses a whole body.
fn compress(enc: Encoding, body: &[u8]) -> std::io::Result<Bytes> {
    match enc {
        Encoding::Brotli => {
            let mut out = Vec::with_capacity(body.len() / 3 + 64);
            {
                let mut w = brotli::CompressorWriter::new(&mut out, 4096, 4, 22);
                w.write_all(body)?;
            }
            Ok(Bytes::from(out))
        }
        _ => {
            let mut e = Encoder::new(enc)?;
            let mut head = e.chunk(body)?.to_vec();
            head.extend_from_slice(&e.finish()?);
            Ok(Bytes::from(head))
        }
    }
}

/// A streamed body compressed chunk by chunk.
struct CompressedBody {
    inner: BoxBody,
    encoder: Option<Encoder>,
}

impl CompressedBody {
    fn new(inner: BoxBody, enc: Encoding) -> std::io::Result<Self> {
        Ok(Self {
            inner,
            encoder: Some(Encoder::new(enc)?),
        })
    }
}

impl MessageBody for CompressedBody {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        BodySize::Stream
    }

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        loop {
            let Some(_) = self.encoder.as_ref() else {
                return Poll::Ready(None);
            };
            match Pin::new(&mut self.inner).poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(chunk))) => {
                    let out = self.encoder.as_mut().map(|e| e.chunk(&chunk));
                    match out {
                        Some(Ok(bytes)) if bytes.is_empty() => continue,
                        Some(Ok(bytes)) => return Poll::Ready(Some(Ok(bytes))),
                        Some(Err(e)) => return Poll::Ready(Some(Err(Box::new(e)))),
                        None => return Poll::Ready(None),
                    }
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => {
                    let Some(encoder) = self.encoder.take() else {
                        return Poll::Ready(None);
                    };
                    return match encoder.finish() {
                        Ok(bytes) if bytes.is_empty() => Poll::Ready(None),
                        Ok(bytes) => Poll::Ready(Some(Ok(bytes))),
                        Err(e) => Poll::Ready(Some(Err(Box::new(e)))),
                    };
                }
            }
        }
    }
}

/// Compresses a response the policy allows, for a client that accepts it.
pub fn compress_response(
    resp: HttpResponse,
    policy: &CompressionPolicy,
    req: &HttpRequest,
) -> HttpResponse {
    if req.method() == Method::HEAD || !policy.applies(resp.status().as_u16(), resp.headers()) {
        return resp;
    }
    match resp.body().size() {
        BodySize::None => return resp,
        BodySize::Sized(n) if (n as usize) < policy.minimum_size => return resp,
        _ => {}
    }
    let Some(enc) = policy.negotiate(req.headers()) else {
        let mut resp = resp;
        resp.headers_mut()
            .append(VARY, HeaderValue::from_static("Accept-Encoding"));
        return resp;
    };
    let (mut head, body) = resp.into_parts();
    match body.try_into_bytes() {
        Ok(bytes) => match compress(enc, &bytes) {
            Ok(out) => {
                mark(head.headers_mut(), enc);
                head.set_body(BoxBody::new(out))
            }
            Err(_) => head.set_body(BoxBody::new(bytes)),
        },
        Err(body) => match CompressedBody::new(body, enc) {
            Ok(stream) => {
                mark(head.headers_mut(), enc);
                head.set_body(BoxBody::new(stream))
            }
            Err(_) => head.set_body(BoxBody::new(Bytes::new())),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn headers(accept: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            actix_web::http::header::ACCEPT_ENCODING,
            HeaderValue::from_str(accept).unwrap(),
        );
        h
    }

    #[test]
    fn negotiates_with_q_values() {
        let p = CompressionPolicy {
            backend: Encoding::Brotli,
            minimum_size: 0,
            gzip_fallback: true,
        };
        assert_eq!(p.negotiate(&headers("gzip, br")), Some(Encoding::Brotli));
        assert_eq!(p.negotiate(&headers("gzip, br;q=0")), Some(Encoding::Gzip));
        assert_eq!(p.negotiate(&headers("identity")), None);
        assert_eq!(p.negotiate(&headers("*")), Some(Encoding::Brotli));
        assert_eq!(p.negotiate(&HeaderMap::new()), None);
    }

    #[test]
    fn round_trips_all_encodings() {
        let body = b"hello hello hello hello hello hello ".repeat(50);
        let gz = compress(Encoding::Gzip, &body).unwrap();
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, body);
        let br = compress(Encoding::Brotli, &body).unwrap();
        let mut out = Vec::new();
        brotli::Decompressor::new(&br[..], 4096)
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, body);
        let zs = compress(Encoding::Zstd, &body).unwrap();
        assert_eq!(zstd::decode_all(&zs[..]).unwrap(), body);
        assert!(gz.len() < body.len() / 5);
    }

    #[test]
    fn streamed_chunks_decode_incrementally() {
        for enc in [Encoding::Gzip, Encoding::Brotli, Encoding::Zstd] {
            let mut e = Encoder::new(enc).unwrap();
            let mut all = e.chunk(b"data: one\n\n").unwrap().to_vec();
            assert!(!all.is_empty(), "{enc:?} produced nothing after a flush");
            all.extend_from_slice(&e.chunk(b"data: two\n\n").unwrap());
            all.extend_from_slice(&e.finish().unwrap());
            let decoded = match enc {
                Encoding::Gzip => {
                    let mut out = Vec::new();
                    flate2::read::GzDecoder::new(&all[..])
                        .read_to_end(&mut out)
                        .unwrap();
                    out
                }
                Encoding::Brotli => {
                    let mut out = Vec::new();
                    brotli::Decompressor::new(&all[..], 4096)
                        .read_to_end(&mut out)
                        .unwrap();
                    out
                }
                Encoding::Zstd => zstd::decode_all(&all[..]).unwrap(),
            };
            assert_eq!(decoded, b"data: one\n\ndata: two\n\n");
        }
    }
}
