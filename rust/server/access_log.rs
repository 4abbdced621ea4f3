//! The access log: one line per request, timed in Rust from the moment its head was read
//! to the last byte of the answer (or the client leaving), formatted with gunicorn's atoms
//! or as JSON, written without the GIL (or through Python logging when the project
//! configures `django_bolt.access`).

use std::fmt::Write as _;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::ServiceRequest;
use actix_web::http::header::{HeaderName, HeaderValue, REFERER, USER_AGENT};
use actix_web::http::StatusCode;
use actix_web::{HttpMessage, HttpRequest, HttpResponse};
use bytes::Bytes;

use super::log_text::{
    civil, protocol, push_clf_time, push_escaped, push_ip, push_or_dash, push_u64,
};
use crate::http::errors::json_string;
use crate::http::request_id::{acceptable, new_request_id, X_REQUEST_ID};
use crate::logs;
use crate::policy::proxies::{client_ip, Net};

/// gunicorn's default, plus the duration in seconds and the request id.
pub const DEFAULT_FORMAT: &str =
    r#"%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(L)s %({x-request-id}o)s"#;

#[derive(Debug)]
pub struct FormatError(String);

impl std::fmt::Display for FormatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "access log format: {}", self.0)
    }
}

impl std::error::Error for FormatError {}

impl From<FormatError> for pyo3::PyErr {
    fn from(e: FormatError) -> Self {
        pyo3::exceptions::PyValueError::new_err(e.to_string())
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Atom {
    Remote,
    Ident,
    User,
    Time,
    RequestLine,
    Method,
    Path,
    Query,
    Protocol,
    Status,
    Bytes,
    BytesOrDash,
    Referer,
    Agent,
    Seconds,
    Millis,
    Micros,
    Decimal,
    Pid,
    /// `%({x-request-id}o)s`: the id the answer carries (no header lookup).
    RequestId,
}

#[derive(Debug, PartialEq)]
enum Piece {
    Text(String),
    Atom(Atom),
    RequestHeader(HeaderName),
    ResponseHeader(usize),
}

enum Format {
    Pieces(Vec<Piece>),
    Json,
}

fn atom(key: &str) -> Option<Atom> {
    Some(match key {
        "h" => Atom::Remote,
        "l" => Atom::Ident,
        "u" => Atom::User,
        "t" => Atom::Time,
        "r" => Atom::RequestLine,
        "m" => Atom::Method,
        "U" => Atom::Path,
        "q" => Atom::Query,
        "H" => Atom::Protocol,
        "s" => Atom::Status,
        "B" => Atom::Bytes,
        "b" => Atom::BytesOrDash,
        "f" => Atom::Referer,
        "a" => Atom::Agent,
        "T" => Atom::Seconds,
        "M" => Atom::Millis,
        "D" => Atom::Micros,
        "L" => Atom::Decimal,
        "p" => Atom::Pid,
        _ => return None,
    })
}

fn header_name(name: &str) -> Result<HeaderName, FormatError> {
    HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes())
        .map_err(|_| FormatError(format!("invalid header name {name:?}")))
}

/// Parses gunicorn's `%(x)s` atoms (`%({name}i)s` / `%({name}o)s` for request and
/// response headers, `%%` for a percent sign); returns the pieces and the response
/// headers the pieces read.
fn parse(format: &str) -> Result<(Vec<Piece>, Vec<HeaderName>), FormatError> {
    let mut pieces = Vec::new();
    let mut outgoing: Vec<HeaderName> = Vec::new();
    let mut text = String::new();
    let mut rest = format;
    while let Some(at) = rest.find('%') {
        text.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("%%") {
            text.push('%');
            rest = after;
            continue;
        }
        let Some(close) = tail
            .strip_prefix("%(")
            .and_then(|t| t.find(")s").map(|i| (t, i)))
        else {
            return Err(FormatError(format!("a '%' outside an atom in {format:?}")));
        };
        let (inner, end) = close;
        let key = &inner[..end];
        if !text.is_empty() {
            pieces.push(Piece::Text(std::mem::take(&mut text)));
        }
        let piece = if let Some(name) = key.strip_prefix('{').and_then(|k| k.strip_suffix("}i")) {
            Piece::RequestHeader(header_name(name)?)
        } else if let Some(name) = key.strip_prefix('{').and_then(|k| k.strip_suffix("}o")) {
            let name = header_name(name)?;
            if name == X_REQUEST_ID {
                Piece::Atom(Atom::RequestId)
            } else {
                let index = match outgoing.iter().position(|n| *n == name) {
                    Some(i) => i,
                    None => {
                        outgoing.push(name);
                        outgoing.len() - 1
                    }
                };
                Piece::ResponseHeader(index)
            }
        } else {
            Piece::Atom(atom(key).ok_or_else(|| FormatError(format!("unknown atom %({key})s")))?)
        };
        pieces.push(piece);
        rest = &inner[end + 2..];
    }
    text.push_str(rest);
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok((pieces, outgoing))
}

pub struct AccessLog {
    format: Format,
    /// Response headers the format reads, captured when the answer is ready.
    outgoing: Vec<HeaderName>,
    /// Through Python logging (`django_bolt.access`) rather than stderr.
    python: bool,
    /// Peers whose X-Request-ID (and X-Forwarded-For) are believed.
    trusted: Vec<Net>,
}

/// What the line needs that is only known once the answer exists.
struct Entry {
    log: Arc<AccessLog>,
    req: HttpRequest,
    started: Instant,
    status: StatusCode,
    id: HeaderValue,
    outgoing: Vec<Option<HeaderValue>>,
}

impl AccessLog {
    /// `format`: gunicorn atoms, "json", or "" for the default.
    pub fn new(format: &str, python: bool, trusted: Vec<Net>) -> Result<Self, FormatError> {
        let (format, outgoing) = match format.trim() {
            "json" => (Format::Json, Vec::new()),
            "" => {
                let (pieces, outgoing) = parse(DEFAULT_FORMAT)?;
                (Format::Pieces(pieces), outgoing)
            }
            other => {
                let (pieces, outgoing) = parse(other)?;
                (Format::Pieces(pieces), outgoing)
            }
        };
        Ok(Self {
            format,
            outgoing,
            python,
            trusted,
        })
    }

    /// Gives the request its id before it is served: a trusted proxy's, else a new one
    /// in place of whatever the client sent, so handlers and Django see the logged id.
    pub fn assign_id(&self, req: &mut ServiceRequest) {
        let trusted_peer = req
            .peer_addr()
            .is_some_and(|p| self.trusted.iter().any(|n| n.contains(&p.ip())));
        let keep = trusted_peer && req.headers().get(&X_REQUEST_ID).is_some_and(acceptable);
        if !keep {
            req.head_mut()
                .headers
                .insert(X_REQUEST_ID.clone(), new_request_id());
        }
    }

    /// The clock starts; the id `assign_id` gave the request.
    pub fn start(&self, req: &HttpRequest) -> (Instant, HeaderValue) {
        let id = req
            .headers()
            .get(&X_REQUEST_ID)
            .cloned()
            .unwrap_or_else(new_request_id);
        (Instant::now(), id)
    }

    /// Echoes the id in the answer and arranges for the line to be written when the
    /// body has been sent (or dropped).
    pub fn finish(
        self: &Arc<Self>,
        (started, id): (Instant, HeaderValue),
        req: HttpRequest,
        mut resp: HttpResponse,
    ) -> HttpResponse {
        // The answer's own id, if the handler set one, is the one logged.
        let id = match resp.headers().get(&X_REQUEST_ID) {
            Some(own) => own.clone(),
            None => {
                resp.headers_mut().insert(X_REQUEST_ID.clone(), id.clone());
                id
            }
        };
        let outgoing = self
            .outgoing
            .iter()
            .map(|name| resp.headers().get(name).cloned())
            .collect();
        let entry = Entry {
            log: Arc::clone(self),
            req,
            started,
            status: resp.status(),
            id,
            outgoing,
        };
        let (resp, body) = resp.into_parts();
        if matches!(body.size(), BodySize::None) {
            entry.write(0);
            return resp.set_body(body);
        }
        match body.try_into_bytes() {
            // A body already whole goes out with the head in one write: the line is
            // written now, and the body keeps the server's fast path (no wrapper).
            Ok(bytes) => {
                entry.write(bytes.len() as u64);
                resp.set_body(BoxBody::new(bytes))
            }
            Err(body) => resp.set_body(BoxBody::new(Logged {
                body,
                bytes: 0,
                entry: Some(entry),
            })),
        }
    }
}

impl Entry {
    /// Writes the line (`bytes` of body sent).
    fn write(&self, bytes: u64) {
        logs::access(self.log.python, |out| self.line(out, bytes));
    }

    fn line(&self, out: &mut String, bytes: u64) {
        let elapsed = self.started.elapsed();
        let began = SystemTime::now()
            .checked_sub(elapsed)
            .unwrap_or_else(SystemTime::now)
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        match &self.log.format {
            Format::Json => self.json(out, bytes, elapsed, began),
            Format::Pieces(pieces) => {
                for piece in pieces {
                    self.piece(out, piece, bytes, elapsed, began);
                }
            }
        }
    }

    fn remote(&self) -> Option<std::net::IpAddr> {
        client_ip(
            self.req.peer_addr().map(|a| a.ip()),
            self.req.headers(),
            &self.log.trusted,
        )
    }

    fn piece(
        &self,
        out: &mut String,
        piece: &Piece,
        bytes: u64,
        elapsed: Duration,
        began: Duration,
    ) {
        let req = &self.req;
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::RequestHeader(name) => push_or_dash(out, req.headers().get(name)),
            Piece::ResponseHeader(i) => push_or_dash(out, self.outgoing[*i].as_ref()),
            Piece::Atom(atom) => match atom {
                Atom::Remote => match self.remote() {
                    Some(ip) => push_ip(out, ip),
                    None => out.push('-'),
                },
                Atom::Ident | Atom::User => out.push('-'),
                Atom::Time => push_clf_time(out, began.as_secs()),
                Atom::RequestLine => {
                    out.push_str(req.method().as_str());
                    out.push(' ');
                    let target = req.uri().path_and_query().map_or("/", |p| p.as_str());
                    push_escaped(out, target.as_bytes());
                    out.push(' ');
                    out.push_str(protocol(req.version()));
                }
                Atom::Method => out.push_str(req.method().as_str()),
                Atom::Path => push_escaped(out, req.path().as_bytes()),
                Atom::Query => push_escaped(out, req.query_string().as_bytes()),
                Atom::Protocol => out.push_str(protocol(req.version())),
                Atom::Status => push_u64(out, u64::from(self.status.as_u16())),
                Atom::Bytes => push_u64(out, bytes),
                Atom::BytesOrDash if bytes == 0 => out.push('-'),
                Atom::BytesOrDash => push_u64(out, bytes),
                Atom::Referer => push_or_dash(out, req.headers().get(REFERER)),
                Atom::Agent => push_or_dash(out, req.headers().get(USER_AGENT)),
                Atom::Seconds => push_u64(out, elapsed.as_secs()),
                Atom::Millis => push_u64(out, elapsed.as_millis() as u64),
                Atom::Micros => push_u64(out, elapsed.as_micros() as u64),
                Atom::Decimal => {
                    push_u64(out, elapsed.as_secs());
                    out.push('.');
                    let micros = elapsed.subsec_micros();
                    let digits = [100_000, 10_000, 1_000, 100, 10, 1]
                        .map(|d| b'0' + (micros / d % 10) as u8);
                    out.push_str(std::str::from_utf8(&digits).unwrap_or_default());
                }
                Atom::Pid => push_u64(out, u64::from(std::process::id())),
                Atom::RequestId => push_escaped(out, self.id.as_bytes()),
            },
        }
    }

    fn json(&self, out: &mut String, bytes: u64, elapsed: Duration, began: Duration) {
        let req = &self.req;
        let text = |v: Option<&HeaderValue>| match v {
            Some(v) => json_string(&String::from_utf8_lossy(v.as_bytes())),
            None => "null".to_owned(),
        };
        let (y, mo, d, h, mi, s) = civil(began.as_secs());
        let remote = self.remote().map(|ip| ip.to_string());
        let _ = write!(
            out,
            "{{\"time\":\"{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:03}Z\",\
             \"remote_addr\":{},\"method\":{},\"path\":{},\"query\":{},\"protocol\":\"{}\",\
             \"status\":{},\"bytes\":{bytes},\"duration_ms\":{:.3},\"user_agent\":{},\
             \"referer\":{},\"request_id\":{}}}",
            began.subsec_millis(),
            remote.map_or("null".to_owned(), |r| json_string(&r)),
            json_string(req.method().as_str()),
            json_string(req.path()),
            json_string(req.query_string()),
            protocol(req.version()),
            self.status.as_u16(),
            elapsed.as_secs_f64() * 1000.0,
            text(req.headers().get(USER_AGENT)),
            text(req.headers().get(REFERER)),
            text(Some(&self.id)),
        );
    }
}

/// The answer's body, counted as it is sent; the line is written when it is dropped
/// (sent in full, or abandoned by a client that left).
struct Logged {
    body: BoxBody,
    bytes: u64,
    entry: Option<Entry>,
}

impl MessageBody for Logged {
    type Error = <BoxBody as MessageBody>::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.get_mut();
        let next = Pin::new(&mut this.body).poll_next(cx);
        if let Poll::Ready(Some(Ok(chunk))) = &next {
            this.bytes += chunk.len() as u64;
        }
        next
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        if let Some(entry) = self.entry.take() {
            entry.write(self.bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_gunicorn_atoms_and_headers() {
        let (pieces, outgoing) =
            parse("%(h)s \"%(r)s\" %({X-Trace}i)s %({x-request-id}o)s 100%%").unwrap();
        assert_eq!(
            pieces,
            vec![
                Piece::Atom(Atom::Remote),
                Piece::Text(" \"".into()),
                Piece::Atom(Atom::RequestLine),
                Piece::Text("\" ".into()),
                Piece::RequestHeader(HeaderName::from_static("x-trace")),
                Piece::Text(" ".into()),
                Piece::Atom(Atom::RequestId),
                Piece::Text(" 100%".into()),
            ]
        );
        assert!(outgoing.is_empty());
        let (pieces, outgoing) = parse("%({Content-Type}o)s").unwrap();
        assert_eq!(pieces, vec![Piece::ResponseHeader(0)]);
        assert_eq!(outgoing, vec![HeaderName::from_static("content-type")]);
        assert!(parse(DEFAULT_FORMAT).is_ok());
    }

    #[test]
    fn refuses_unknown_atoms_and_stray_percents() {
        assert!(parse("%(z)s")
            .unwrap_err()
            .to_string()
            .contains("unknown atom %(z)s"));
        assert!(parse("50% off").is_err());
        assert!(parse("%({bad header}i)s").is_err());
    }
}
