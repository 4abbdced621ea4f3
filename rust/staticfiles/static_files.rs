//! `StaticFiles`, Python's handle on one indexed directory served at a URL prefix.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse};
use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;

use super::index::{IndexOptions, StaticIndex};

#[pyclass(frozen, module = "django_bolt._core")]
pub struct StaticFiles {
    pub prefix: String,
    pub index: Arc<StaticIndex>,
}

#[pymethods]
impl StaticFiles {
    /// Indexes `root` for serving at `prefix` (`/static/`). `immutable` lists the names
    /// that carry a content hash; `max_age` is every other file's; `attachments` sends
    /// HTML, SVG and XML as downloads; `live` looks files up when requested instead of
    /// indexing them at start (both for uploaded media).
    #[new]
    #[pyo3(signature = (prefix, root, immutable=Vec::new(), max_age=60, attachments=false, live=false))]
    fn new(
        py: Python<'_>,
        prefix: String,
        root: String,
        immutable: Vec<String>,
        max_age: u32,
        attachments: bool,
        live: bool,
    ) -> PyResult<Self> {
        if !prefix.starts_with('/') || !prefix.ends_with('/') {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "the static prefix must start and end with '/' (got {prefix:?})"
            )));
        }
        let options = IndexOptions {
            immutable: immutable.into_iter().collect::<HashSet<_>>(),
            max_age,
            attachments,
        };
        let index = py
            .detach(|| {
                if live {
                    StaticIndex::live(Path::new(&root), options)
                } else {
                    StaticIndex::build(Path::new(&root), &options)
                }
            })
            .map_err(|e| PyOSError::new_err(format!("cannot index {root}: {e}")))?;
        Ok(Self {
            prefix,
            index: Arc::new(index),
        })
    }

    #[getter]
    fn prefix(&self) -> &str {
        &self.prefix
    }

    /// How many files are indexed (0 for a live root).
    fn __len__(&self) -> usize {
        self.index.files.len()
    }

    /// Whether files are looked up when requested rather than indexed at start.
    #[getter]
    fn live(&self) -> bool {
        self.index.live.is_some()
    }
}

/// Serves the request when its path is under one of the mounts.
pub async fn serve_static(
    mounts: &[(String, Arc<StaticIndex>)],
    req: &HttpRequest,
) -> Option<HttpResponse> {
    if mounts.is_empty() {
        return None;
    }
    let path = req.path();
    for (prefix, index) in mounts {
        if let Some(rest) = path.strip_prefix(prefix.as_str()) {
            return Some(index.answer(req, rest).await);
        }
    }
    None
}
