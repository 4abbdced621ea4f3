//! `GroupHub`, Python's handle on this process's WebSocket groups.

use std::sync::Arc;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use super::channel::{Outgoing, WebSocketChannel};
use super::groups::{Done, HubCore};

/// Longest group name accepted.
const MAX_NAME: usize = 200;

fn check_name(name: &str) -> PyResult<()> {
    if name.is_empty()
        || name.len() > MAX_NAME
        || name.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(PyValueError::new_err(format!(
            "invalid group name {name:?}: use 1 to {MAX_NAME} characters without spaces"
        )));
    }
    Ok(())
}

/// This process's WebSocket groups (one per process, made by `django_bolt`).
#[pyclass(frozen, module = "django_bolt._core")]
pub struct GroupHub {
    core: Arc<HubCore>,
}

#[pymethods]
impl GroupHub {
    #[new]
    #[pyo3(signature = (redis_url=None, prefix="bolt:"))]
    fn new(redis_url: Option<&str>, prefix: &str) -> PyResult<Self> {
        Ok(Self {
            core: HubCore::new(redis_url, prefix)?,
        })
    }

    /// True when groups reach other processes through Redis.
    #[getter]
    fn shared(&self) -> bool {
        self.core.is_shared()
    }

    /// Adds the connection to `name`. Returns True when done; otherwise `done(error)` is
    /// called once this process is subscribed to the group.
    fn add(&self, name: &str, channel: &WebSocketChannel, done: Done) -> PyResult<bool> {
        check_name(name)?;
        Ok(self.core.add(name, &channel.shared, done))
    }

    /// Removes the connection from `name` (nothing happens when it is not a member).
    fn discard(&self, name: &str, channel: &WebSocketChannel) -> PyResult<()> {
        check_name(name)?;
        self.core.discard(name, channel.shared.id);
        Ok(())
    }

    /// Sends a message (`kind` "text" or "bytes") to every member. Without Redis it is
    /// queued for the local members at once and True is returned; with Redis it is
    /// published, `done(error)` is called when Redis has it, and False is returned.
    fn send(&self, name: &str, kind: &str, data: &Bound<'_, PyAny>, done: Done) -> PyResult<bool> {
        check_name(name)?;
        let message = Outgoing::from_py(kind, data)?;
        Ok(self.core.send(name, message, done))
    }

    /// Members of `name` in this process.
    fn size(&self, name: &str) -> usize {
        self.core.size(name)
    }
}
