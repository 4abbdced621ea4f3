//! The body of a Django request that is still arriving: Python reads it chunk by chunk
//! (`wsgi.input`), waiting with the GIL released, while the Actix task forwards the rest
//! of the body from the connection. The channel is bounded, so a reader that stops
//! reading stops the reading of the connection.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use tokio::sync::mpsc;

use crate::http::body::BodyError;

/// Chunks in flight between the connection and the reader.
pub const INPUT_CHUNKS: usize = 4;

pub struct InputState {
    head: Option<Bytes>,
    rest: mpsc::Receiver<Result<Bytes, BodyError>>,
    /// Bytes still to come after the head.
    remaining: u64,
}

impl InputState {
    pub fn new(
        head: Bytes,
        rest: mpsc::Receiver<Result<Bytes, BodyError>>,
        remaining: u64,
    ) -> Arc<Mutex<Self>> {
        Arc::new(Mutex::new(Self {
            head: Some(head),
            rest,
            remaining,
        }))
    }

    fn next(&mut self) -> Result<Option<Bytes>, BodyError> {
        if let Some(head) = self.head.take().filter(|h| !h.is_empty()) {
            return Ok(Some(head));
        }
        if self.remaining == 0 {
            return Ok(None);
        }
        match self.rest.blocking_recv() {
            Some(Ok(chunk)) => {
                self.remaining = self.remaining.saturating_sub(chunk.len() as u64);
                Ok(Some(chunk))
            }
            Some(Err(e)) => Err(e),
            None => Err(BodyError::Unreadable(format!(
                "the connection ended {} bytes before the end of the body",
                self.remaining
            ))),
        }
    }
}

/// A request body still arriving (`wsgi.input` reads from it).
#[pyclass(frozen, module = "django_bolt._core")]
pub struct RequestInput {
    pub(crate) state: Arc<Mutex<InputState>>,
}

#[pymethods]
impl RequestInput {
    /// The next chunk of the body, waiting for it with the GIL released; None at the
    /// end. Raises OSError when the client stops sending (disconnect or timeout).
    fn read_chunk<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let state = Arc::clone(&self.state);
        let next = py.detach(move || state.lock().unwrap_or_else(|p| p.into_inner()).next());
        match next {
            Ok(Some(chunk)) => Ok(Some(PyBytes::new(py, &chunk))),
            Ok(None) => Ok(None),
            Err(e) => Err(PyOSError::new_err(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_head_then_the_rest_then_ends() {
        let (tx, rx) = mpsc::channel(INPUT_CHUNKS);
        let state = InputState::new(Bytes::from_static(b"ab"), rx, 3);
        tx.try_send(Ok(Bytes::from_static(b"cde"))).unwrap();
        let mut s = state.lock().unwrap();
        assert_eq!(s.next(), Ok(Some(Bytes::from_static(b"ab"))));
        assert_eq!(s.next(), Ok(Some(Bytes::from_static(b"cde"))));
        assert_eq!(s.next(), Ok(None));
    }

    #[test]
    fn a_connection_that_ends_early_is_an_error() {
        let (tx, rx) = mpsc::channel(INPUT_CHUNKS);
        let state = InputState::new(Bytes::new(), rx, 10);
        tx.try_send(Ok(Bytes::from_static(b"abc"))).unwrap();
        drop(tx);
        let mut s = state.lock().unwrap();
        assert_eq!(s.next(), Ok(Some(Bytes::from_static(b"abc"))));
        assert!(matches!(s.next(), Err(BodyError::Unreadable(m)) if m.contains("7 bytes")));
    }

    #[test]
    fn a_forwarding_failure_reaches_the_reader() {
        let (tx, rx) = mpsc::channel(INPUT_CHUNKS);
        let state = InputState::new(Bytes::new(), rx, 10);
        tx.try_send(Err(BodyError::TimedOut)).unwrap();
        assert_eq!(state.lock().unwrap().next(), Err(BodyError::TimedOut));
    }
}
