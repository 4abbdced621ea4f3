//! One request handed to Python, and the way Python answers it.
//!
//! The request data is owned by the job (no copies into Python until a getter asks),
//! and the answer goes back through a one-shot channel the Actix task awaits.

use std::net::SocketAddr;
use std::sync::Mutex;

use actix_http::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use actix_http::{Method, Uri};
use bytes::Bytes;
use pyo3::exceptions::PyRuntimeError;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};
use tokio::sync::{mpsc, oneshot};

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

pub enum Reply {
    Full {
        status: u16,
        headers: HeaderList,
        body: Bytes,
    },
    Stream {
        status: u16,
        headers: HeaderList,
        chunks: mpsc::Receiver<Bytes>,
    },
}

pub struct RequestParts {
    pub route_id: i64,
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub params: Vec<(String, String)>,
    pub peer: Option<SocketAddr>,
    /// The local address the request arrived on, for SERVER_NAME / SERVER_PORT.
    pub server: SocketAddr,
}

#[pyclass(frozen, module = "django_bolt._core")]
pub struct Job {
    pub(crate) parts: RequestParts,
    reply: Mutex<Option<oneshot::Sender<Reply>>>,
}

impl Job {
    pub fn new(parts: RequestParts, reply: oneshot::Sender<Reply>) -> Self {
        Self {
            parts,
            reply: Mutex::new(Some(reply)),
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
        self.send(Reply::Stream {
            status,
            headers,
            chunks: rx,
        })?;
        Ok(StreamWriter {
            tx: Mutex::new(Some(tx)),
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

    /// Ends the body.
    fn close(&self) {
        self.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}
