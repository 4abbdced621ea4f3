//! One request handed to Python, and the way Python answers it.
//!
//! The request data is owned by the job (no copies into Python until a getter asks),
//! and the answer goes back through a one-shot channel the Actix task awaits.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::http::header::{
    Charset, ContentDisposition, DispositionParam, DispositionType, ExtendedValue,
};

use actix_http::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use actix_http::{Method, Uri};
use bytes::Bytes;
use pyo3::exceptions::PyValueError;
use pyo3::exceptions::{
    PyFileNotFoundError, PyIsADirectoryError, PyOSError, PyPermissionError, PyRuntimeError,
};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};
use tokio::sync::{mpsc, oneshot};

use crate::auth::Identity;
use crate::bridge::BridgeCore;
use crate::form::{ParsedForm, PartData};
use crate::policy::identity_dict;
use crate::websocket::{Decision, Shared as WsShared, WebSocketChannel};

/// Route id used for requests that go to Django's own handler.
pub const DJANGO_FALLBACK: i64 = -1;

impl RequestParts {
    pub fn path(&self) -> &str {
        self.uri.path()
    }

    pub fn query(&self) -> &str {
        self.uri.query().unwrap_or("")
    }
}

pub type HeaderList = Vec<(HeaderName, HeaderValue)>;

/// Shared by a stream's writer (Python) and its body (Actix): the body tells the event
/// loop when a writer waiting for room can go on, and when the client has gone.
pub struct StreamWaker {
    pub id: u64,
    waiting: AtomicBool,
    bridge: Arc<BridgeCore>,
}

impl StreamWaker {
    /// The consumer took a chunk: wake a writer that waits for room.
    pub fn made_room(&self) {
        if self.waiting.swap(false, Ordering::AcqRel) {
            self.bridge.notify_stream(self.id);
        }
    }

    /// The body is gone (finished, or the client disconnected).
    pub fn ended(&self) {
        self.bridge.notify_stream(self.id);
    }
}

pub(crate) static NEXT_STREAM_ID: AtomicU64 = AtomicU64::new(1);

pub enum Reply {
    File {
        file: Box<actix_files::NamedFile>,
        status: u16,
        headers: HeaderList,
    },
    Full {
        status: u16,
        headers: HeaderList,
        body: Bytes,
    },
    Stream {
        status: u16,
        headers: HeaderList,
        chunks: mpsc::Receiver<Bytes>,
        waker: Arc<StreamWaker>,
    },
    /// A WebSocket handler accepted or closed the handshake.
    WebSocket(Decision),
}

pub struct RequestParts {
    pub route_id: i64,
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// multipart/form-data already parsed (API routes only).
    pub form: Option<ParsedForm>,
    pub params: Vec<(String, String)>,
    pub peer: Option<SocketAddr>,
    /// The local address the request arrived on, for SERVER_NAME / SERVER_PORT.
    pub server: SocketAddr,
    /// Who the request authenticated as in Rust.
    pub identity: Option<Identity>,
    /// Python authentication or guards still have to run before the handler.
    pub python_gate: bool,
    /// Set for a WebSocket handshake: the connection's shared state.
    pub websocket: Option<Arc<WsShared>>,
}

#[pyclass(frozen, module = "django_bolt._core")]
pub struct Job {
    pub(crate) parts: RequestParts,
    reply: Mutex<Option<oneshot::Sender<Reply>>>,
    bridge: Arc<BridgeCore>,
}

impl Job {
    pub fn new(
        parts: RequestParts,
        reply: oneshot::Sender<Reply>,
        bridge: Arc<BridgeCore>,
    ) -> Self {
        Self {
            parts,
            reply: Mutex::new(Some(reply)),
            bridge,
        }
    }

    /// Answers from Rust; false if already answered or the client is gone.
    pub(crate) fn send_reply(&self, reply: Reply) -> bool {
        self.send(reply).unwrap_or(false)
    }

    fn send(&self, reply: Reply) -> PyResult<bool> {
        let sender = self
            .reply
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .ok_or_else(|| PyRuntimeError::new_err("this request was already answered"))?;
        // A closed receiver means the client went away; that is not an error for Python.
        Ok(sender.send(reply).is_ok())
    }
}

fn header_value_str(value: &[u8]) -> String {
    match std::str::from_utf8(value) {
        Ok(s) => s.to_owned(),
        // HTTP header bytes outside UTF-8 are latin-1 by convention (PEP 3333 does the same).
        Err(_) => value.iter().map(|&b| b as char).collect(),
    }
}

fn body_bytes(body: &Bound<'_, PyAny>) -> PyResult<Bytes> {
    if let Ok(b) = body.cast::<PyBytes>() {
        return Ok(Bytes::copy_from_slice(b.as_bytes()));
    }
    if let Ok(s) = body.cast::<PyString>() {
        return Ok(Bytes::copy_from_slice(s.to_str()?.as_bytes()));
    }
    if body.is_none() {
        return Ok(Bytes::new());
    }
    let b: Vec<u8> = body.extract()?;
    Ok(Bytes::from(b))
}

fn content_disposition(kind: &str, filename: &str) -> PyResult<ContentDisposition> {
    let disposition = match kind {
        "attachment" => DispositionType::Attachment,
        "inline" => DispositionType::Inline,
        other => {
            return Err(PyValueError::new_err(format!(
                "disposition must be 'attachment' or 'inline', not {other:?}"
            )))
        }
    };
    // A plain ASCII name for old clients, and the exact UTF-8 name (RFC 6266) when needed.
    let ascii: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut parameters = vec![DispositionParam::Filename(ascii.clone())];
    if ascii != filename {
        parameters.push(DispositionParam::FilenameExt(ExtendedValue {
            charset: Charset::Ext("UTF-8".to_owned()),
            language_tag: None,
            value: filename.as_bytes().to_vec(),
        }));
    }
    Ok(ContentDisposition {
        disposition,
        parameters,
    })
}

fn header_pair(name: &str, value: &str) -> PyResult<(HeaderName, HeaderValue)> {
    let name = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| PyValueError::new_err(format!("invalid response header name {name:?}")))?;
    let value = HeaderValue::from_str(value).map_err(|_| {
        PyValueError::new_err(format!(
            "invalid value for response header {name}: {value:?}"
        ))
    })?;
    Ok((name, value))
}

pub(crate) const JSON_CONTENT_TYPE: HeaderValue = HeaderValue::from_static("application/json");

fn content_type_value(ct: &str) -> PyResult<HeaderValue> {
    if ct == "application/json" {
        return Ok(JSON_CONTENT_TYPE);
    }
    HeaderValue::from_str(ct)
        .map_err(|_| PyValueError::new_err(format!("invalid content type {ct:?}")))
}

fn extract_headers(headers: Option<&Bound<'_, PyAny>>) -> PyResult<HeaderList> {
    let Some(headers) = headers else {
        return Ok(Vec::new());
    };
    if headers.is_none() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for item in headers.try_iter()? {
        let item = item?;
        let (name, value): (String, String) = item.extract()?;
        out.push(header_pair(&name, &value)?);
    }
    Ok(out)
}

#[pymethods]
impl Job {
    #[getter]
    fn route_id(&self) -> i64 {
        self.parts.route_id
    }

    #[getter]
    fn method<'py>(&self, py: Python<'py>) -> Bound<'py, PyString> {
        PyString::intern(py, self.parts.method.as_str())
    }

    /// The raw (still percent-encoded) request path.
    #[getter]
    fn path(&self) -> &str {
        self.parts.path()
    }

    #[getter]
    fn query_string(&self) -> &str {
        self.parts.query()
    }

    #[getter]
    fn server(&self) -> (String, u16) {
        (self.parts.server.ip().to_string(), self.parts.server.port())
    }

    #[getter]
    fn client(&self) -> Option<(String, u16)> {
        self.parts.peer.map(|a| (a.ip().to_string(), a.port()))
    }

    /// What Rust authentication established (claims and grants), or None.
    fn context<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        self.parts
            .identity
            .as_ref()
            .map(|id| identity_dict(py, id))
            .transpose()
    }

    /// The WebSocket connection of a handshake job, or None for HTTP.
    fn websocket(&self) -> Option<WebSocketChannel> {
        self.parts
            .websocket
            .as_ref()
            .map(|shared| WebSocketChannel {
                shared: Arc::clone(shared),
            })
    }

    /// Completes the WebSocket handshake (101) with an optional subprotocol and headers.
    #[pyo3(signature = (subprotocol=None, headers=None))]
    fn ws_accept(
        &self,
        subprotocol: Option<String>,
        headers: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let headers = extract_headers(headers)?;
        self.send(Reply::WebSocket(Decision::Accept {
            subprotocol,
            headers,
        }))
    }

    /// Completes the handshake and closes at once with `code` (a close code the client
    /// sees, such as 4001, rather than an HTTP error).
    #[pyo3(signature = (code=1000, reason=""))]
    fn ws_close(&self, code: u16, reason: &str) -> PyResult<bool> {
        self.send(Reply::WebSocket(Decision::Close {
            code,
            reason: reason.to_owned(),
        }))
    }

    #[getter]
    fn is_websocket(&self) -> bool {
        self.parts.websocket.is_some()
    }

    /// True when Python authentication backends or guards must run before the handler.
    #[getter]
    fn auth_pending(&self) -> bool {
        self.parts.python_gate
    }

    #[getter]
    fn body<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.parts.body)
    }

    /// Path parameters as {name: decoded value}.
    fn params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        for (k, v) in &self.parts.params {
            dict.set_item(PyString::intern(py, k), v)?;
        }
        Ok(dict)
    }

    /// Query parameters decoded as {name: value}; for a repeated name the last one wins.
    fn query<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        if !self.parts.query().is_empty() {
            for (k, v) in form_urlencoded::parse(self.parts.query().as_bytes()) {
                dict.set_item(k.as_ref(), v.as_ref())?;
            }
        }
        Ok(dict)
    }

    /// Query parameters decoded (percent and '+') as (name, value) pairs, in order.
    fn query_pairs<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for (k, v) in form_urlencoded::parse(self.parts.query().as_bytes()) {
            list.append(PyTuple::new(py, [k.as_ref(), v.as_ref()])?)?;
        }
        Ok(list)
    }

    /// Form fields as (name, value) pairs: the text parts of a multipart body, or an
    /// application/x-www-form-urlencoded body.
    fn form_fields<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        if let Some(form) = &self.parts.form {
            for (k, v) in &form.fields {
                list.append(PyTuple::new(py, [k.as_str(), v.as_str()])?)?;
            }
            return Ok(list);
        }
        let urlencoded = self
            .parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| {
                ct.trim_start()
                    .to_ascii_lowercase()
                    .starts_with("application/x-www-form-urlencoded")
            });
        if urlencoded {
            for (k, v) in form_urlencoded::parse(&self.parts.body) {
                list.append(PyTuple::new(py, [k.as_ref(), v.as_ref()])?)?;
            }
        }
        Ok(list)
    }

    /// Uploaded files as (field, filename, content type, size, headers, bytes or None,
    /// temporary path or None) tuples, in the order received.
    fn form_files<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        let Some(form) = &self.parts.form else {
            return Ok(list);
        };
        for part in &form.files {
            let (data, path): (Py<PyAny>, Py<PyAny>) = match &part.data {
                PartData::Memory(b) => (PyBytes::new(py, b).into_any().unbind(), py.None()),
                PartData::Spooled(p) => (
                    py.None(),
                    PyString::new(py, &p.to_string_lossy()).into_any().unbind(),
                ),
            };
            let tuple = PyTuple::new(
                py,
                [
                    PyString::new(py, &part.name).into_any().unbind(),
                    PyString::new(py, &part.filename).into_any().unbind(),
                    match &part.content_type {
                        Some(ct) => PyString::new(py, ct).into_any().unbind(),
                        None => py.None(),
                    },
                    part.size.into_pyobject(py)?.into_any().unbind(),
                    part.headers.clone().into_pyobject(py)?.into_any().unbind(),
                    data,
                    path,
                ],
            )?;
            list.append(tuple)?;
        }
        Ok(list)
    }

    /// Headers as (lower-case name, value) pairs, in the order received.
    fn headers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for (k, v) in self.parts.headers.iter() {
            list.append(PyTuple::new(
                py,
                [k.as_str(), &header_value_str(v.as_bytes())],
            )?)?;
        }
        Ok(list)
    }

    /// Answers with a complete body. Returns False if the client is already gone.
    #[pyo3(signature = (status, body, content_type=None, headers=None))]
    fn respond(
        &self,
        status: u16,
        body: &Bound<'_, PyAny>,
        content_type: Option<&str>,
        headers: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let mut headers = extract_headers(headers)?;
        if let Some(ct) = content_type {
            headers.push((CONTENT_TYPE, content_type_value(ct)?));
        }
        let body = body_bytes(body)?;
        self.send(Reply::Full {
            status,
            headers,
            body,
        })
    }

    /// Starts a streamed answer; the returned writer sends the body chunk by chunk.
    #[pyo3(signature = (status, headers=None, buffer=16))]
    fn start_stream(
        &self,
        status: u16,
        headers: Option<&Bound<'_, PyAny>>,
        buffer: usize,
    ) -> PyResult<StreamWriter> {
        let headers = extract_headers(headers)?;
        let (tx, rx) = mpsc::channel(buffer.max(1));
        let waker = Arc::new(StreamWaker {
            id: NEXT_STREAM_ID.fetch_add(1, Ordering::Relaxed),
            waiting: AtomicBool::new(false),
            bridge: Arc::clone(&self.bridge),
        });
        self.send(Reply::Stream {
            status,
            headers,
            chunks: rx,
            waker: Arc::clone(&waker),
        })?;
        Ok(StreamWriter {
            tx: Mutex::new(Some(tx)),
            waker,
        })
    }

    /// Answers with a file streamed from disk by Rust (Range, ETag, Last-Modified and
    /// conditional requests handled). `disposition` is "attachment" or "inline".
    /// Raises FileNotFoundError / PermissionError / IsADirectoryError like open().
    #[pyo3(signature = (path, status=200, content_type=None, filename=None, disposition="attachment", headers=None))]
    #[allow(clippy::too_many_arguments)]
    fn respond_file(
        &self,
        py: Python<'_>,
        path: std::path::PathBuf,
        status: u16,
        content_type: Option<&str>,
        filename: Option<&str>,
        disposition: &str,
        headers: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let headers = extract_headers(headers)?;
        let opened = {
            let path = path.clone();
            py.detach(move || -> std::io::Result<actix_files::NamedFile> {
                if path.is_dir() {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::IsADirectory,
                        "is a directory",
                    ));
                }
                actix_files::NamedFile::open(&path)
            })
        };
        let mut file = opened.map_err(|e| {
            let msg = format!("{}: {}", e, path.display());
            match e.kind() {
                std::io::ErrorKind::NotFound => PyFileNotFoundError::new_err(msg),
                std::io::ErrorKind::PermissionDenied => PyPermissionError::new_err(msg),
                std::io::ErrorKind::IsADirectory => PyIsADirectoryError::new_err(msg),
                _ => PyOSError::new_err(msg),
            }
        })?;
        if let Some(ct) = content_type {
            let mime: mime::Mime = ct
                .parse()
                .map_err(|_| PyValueError::new_err(format!("invalid content type {ct:?}")))?;
            file = file.set_content_type(mime);
        }
        let name = match filename {
            Some(name) => name.to_owned(),
            None => path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "download".to_owned()),
        };
        file = file.set_content_disposition(content_disposition(disposition, &name)?);
        self.send(Reply::File {
            file: Box::new(file),
            status,
            headers,
        })
    }

    #[getter]
    fn answered(&self) -> bool {
        self.reply
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_none()
    }
}

/// Sends body chunks of a streamed response; bounded, so a slow client slows the producer.
#[pyclass(frozen, module = "django_bolt._core")]
pub struct StreamWriter {
    tx: Mutex<Option<mpsc::Sender<Bytes>>>,
    waker: Arc<StreamWaker>,
}

#[pymethods]
impl StreamWriter {
    /// Blocks (GIL released) until the chunk is queued. False once the client is gone.
    fn write(&self, py: Python<'_>, chunk: &Bound<'_, PyAny>) -> PyResult<bool> {
        let data = body_bytes(chunk)?;
        if data.is_empty() {
            return Ok(true);
        }
        let tx = match self.tx.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            Some(tx) => tx.clone(),
            None => return Ok(false),
        };
        Ok(py.detach(move || tx.blocking_send(data).is_ok()))
    }

    /// Queues the chunk without blocking: 0 sent; 1 full (the event loop will be told,
    /// through the bridge, when there is room: wait, then call again); 2 client gone.
    fn send(&self, chunk: &Bound<'_, PyAny>) -> PyResult<u8> {
        let data = body_bytes(chunk)?;
        if data.is_empty() {
            return Ok(0);
        }
        let guard = self.tx.lock().unwrap_or_else(|p| p.into_inner());
        let Some(tx) = guard.as_ref() else {
            return Ok(2);
        };
        match tx.try_send(data) {
            Ok(()) => Ok(0),
            Err(mpsc::error::TrySendError::Closed(_)) => Ok(2),
            Err(mpsc::error::TrySendError::Full(data)) => {
                // Arm the wake-up first, then try once more: a consumer that made room
                // in between has either taken this chunk or will see `waiting`.
                self.waker.waiting.store(true, Ordering::Release);
                match tx.try_send(data) {
                    Ok(()) => Ok(0),
                    Err(mpsc::error::TrySendError::Full(_)) => Ok(1),
                    Err(mpsc::error::TrySendError::Closed(_)) => Ok(2),
                }
            }
        }
    }

    #[getter]
    fn id(&self) -> u64 {
        self.waker.id
    }

    /// True once the client has gone (or the stream was closed).
    #[getter]
    fn closed(&self) -> bool {
        match self.tx.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            Some(tx) => tx.is_closed(),
            None => true,
        }
    }

    /// Ends the body.
    fn close(&self) {
        self.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}
