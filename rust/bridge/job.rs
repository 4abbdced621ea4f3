//! One request handed to Python, and the way Python answers it.
//!
//! The request data is owned by the job (no copies into Python until a getter asks),
//! and the answer goes back through a one-shot channel the Actix task awaits.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use actix_http::header::CONTENT_TYPE;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};
use tokio::sync::{mpsc, oneshot};

use super::input::RequestInput;
use super::parts::{Reply, RequestParts};
use super::response_args::{
    body_bytes, content_disposition, content_type_value, extract_headers, open_file, ResponseError,
};
use super::stream::{StreamWaker, StreamWriter};
use crate::http::form::{PartData, MAX_PARTS};
use crate::policy::identity::identity_dict;
use crate::wake::Wakeup;
use crate::ws::channel::WebSocketChannel;
use crate::ws::handshake::Decision;

/// A second answer to one request (RuntimeError).
#[derive(Debug)]
pub struct AlreadyAnswered;

impl std::fmt::Display for AlreadyAnswered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("this request was already answered")
    }
}

impl std::error::Error for AlreadyAnswered {}

impl From<AlreadyAnswered> for PyErr {
    fn from(e: AlreadyAnswered) -> Self {
        PyRuntimeError::new_err(e.to_string())
    }
}

#[pyclass(frozen, module = "django_bolt._core")]
pub struct Job {
    pub(crate) parts: RequestParts,
    reply: Mutex<Option<oneshot::Sender<Reply>>>,
    /// Wakes the event loop for this request's streamed body.
    wake: Arc<Wakeup>,
    /// The process's count of requests in Python, given back once answered (or dropped).
    in_python: Arc<AtomicUsize>,
}

impl Drop for Job {
    fn drop(&mut self) {
        let unanswered = match self.reply.get_mut() {
            Ok(reply) => reply.is_some(),
            Err(poisoned) => poisoned.into_inner().is_some(),
        };
        if unanswered {
            self.in_python.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl Job {
    pub fn new(
        parts: RequestParts,
        reply: oneshot::Sender<Reply>,
        wake: Arc<Wakeup>,
        in_python: Arc<AtomicUsize>,
    ) -> Self {
        Self {
            parts,
            reply: Mutex::new(Some(reply)),
            wake,
            in_python,
        }
    }

    /// Answers from Rust; false if already answered or the client is gone.
    pub(crate) fn send_reply(&self, reply: Reply) -> bool {
        self.send(reply).unwrap_or(false)
    }

    fn send(&self, reply: Reply) -> Result<bool, AlreadyAnswered> {
        let sender = self
            .reply
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .ok_or(AlreadyAnswered)?;
        self.in_python.fetch_sub(1, Ordering::AcqRel);
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

    /// The root path (`--root-path`) the path starts with: Django's SCRIPT_NAME.
    #[getter]
    fn script_name(&self) -> &str {
        &self.parts.path()[..self.parts.script_name_len]
    }

    #[getter]
    fn query_string(&self) -> &str {
        self.parts.query()
    }

    #[getter]
    fn server(&self) -> (String, u16) {
        (self.parts.server.ip().to_string(), self.parts.server.port())
    }

    /// "https" on a TLS connection, or when a trusted proxy forwarded an https request.
    #[getter]
    fn scheme(&self) -> &'static str {
        self.parts.scheme
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
        Ok(self.send(Reply::WebSocket(Decision::Accept {
            subprotocol,
            headers,
        }))?)
    }

    /// Completes the handshake and closes at once with `code` (a close code the client
    /// sees, such as 4001, rather than an HTTP error).
    #[pyo3(signature = (code=1000, reason=""))]
    fn ws_close(&self, code: u16, reason: &str) -> PyResult<bool> {
        Ok(self.send(Reply::WebSocket(Decision::Close {
            code,
            reason: reason.to_owned(),
        }))?)
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

    /// The body still arriving from the connection (`body` is then its first part,
    /// which `read_chunk` returns first), or None when `body` is the whole body.
    fn input(&self) -> Option<RequestInput> {
        self.parts.input.as_ref().map(|state| RequestInput {
            state: Arc::clone(state),
        })
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
            for (i, (k, v)) in form_urlencoded::parse(&self.parts.body).enumerate() {
                if i >= MAX_PARTS {
                    // As for multipart bodies: a field-count flood is refused.
                    return Err(PyValueError::new_err(format!(
                        "more than {MAX_PARTS} form fields"
                    )));
                }
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
        Ok(self.send(Reply::Full {
            status,
            headers,
            body,
        })?)
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
        let waker = Arc::new(StreamWaker::new(Arc::clone(&self.wake)));
        self.send(Reply::Stream {
            status,
            headers,
            chunks: rx,
            waker: Arc::clone(&waker),
        })?;
        Ok(StreamWriter::new(tx, waker))
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
        let mut file = py.detach(|| open_file(&path))?;
        if let Some(ct) = content_type {
            let mime: mime::Mime = ct
                .parse()
                .map_err(|_| ResponseError::ContentType(ct.to_owned()))?;
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
        Ok(self.send(Reply::File {
            file: Box::new(file),
            status,
            headers,
        })?)
    }

    #[getter]
    fn answered(&self) -> bool {
        self.reply
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_none()
    }
}
