//! `RoutePolicy`, Python's handle on a compiled policy; it also runs the gate for requests
//! served outside the Rust server.

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::http::Method;
use actix_web::HttpResponse;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyAny, PyDict};

use super::gate::{Gate, PolicyCore, RequestView};
use super::identity::identity_dict;
use super::preflight::{preflight_policy, Asked};

/// The compiled policy of one route, attached to its router entry.
#[pyclass(frozen, module = "django_bolt._core")]
pub struct RoutePolicy {
    pub core: Arc<PolicyCore>,
}

#[pymethods]
impl RoutePolicy {
    #[new]
    fn new(spec: &Bound<'_, PyDict>) -> PyResult<Self> {
        Ok(Self {
            core: Arc::new(PolicyCore::compile(spec)?),
        })
    }

    /// Runs the gate for a request outside the Rust server (Django's URL resolver under
    /// runserver or any WSGI/ASGI server). Returns `("reject", status, headers, body)` or
    /// `("pass", context_or_None, python_pending)`; CORS response headers are added by
    /// `cors_headers`.
    #[pyo3(signature = (method, headers, query="", peer=None))]
    fn check<'py>(
        &self,
        py: Python<'py>,
        method: &str,
        headers: Vec<(String, String)>,
        query: &str,
        peer: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let map = header_map(&headers);
        let method = Method::from_bytes(method.as_bytes())
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        if let Some(resp) = self.core.preflight(&method, &map) {
            return reject_tuple(py, reject_parts(resp));
        }
        let peer = peer.and_then(|p| p.parse().ok());
        let core = Arc::clone(&self.core);
        let view = RequestView {
            method: &method,
            headers: &map,
            query,
            peer,
            forced: None,
        };
        let gate = py.detach(|| {
            futures_executor::block_on(async {
                match core.gate(&view).await {
                    Gate::Reject(mut resp) => {
                        core.finish(view.headers, false, resp.headers_mut());
                        Err(reject_parts(resp))
                    }
                    Gate::Pass { identity, python } => Ok((identity, python)),
                }
            })
        });
        match gate {
            Err(parts) => reject_tuple(py, parts),
            Ok((identity, python)) => {
                let ctx = match identity {
                    Some(id) => identity_dict(py, &id)?.into_any(),
                    None => py.None().into_bound(py),
                };
                Ok(("pass", ctx, python).into_pyobject(py)?.into_any())
            }
        }
    }

    /// The CORS headers for a response to a request with these headers.
    fn cors_headers(&self, headers: Vec<(String, String)>) -> Vec<(String, String)> {
        let map = header_map(&headers);
        let mut out = HeaderMap::new();
        self.core.finish(&map, false, &mut out);
        out.iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
            .collect()
    }

    #[getter]
    fn has_auth(&self) -> bool {
        self.core.has_auth()
    }

    #[getter]
    fn has_cors(&self) -> bool {
        self.core.cors.is_some()
    }

    /// The policy that answers a CORS preflight on a path whose routes are
    /// `(method, policy)`, asking for `requested` (the same rule as the Rust server).
    #[staticmethod]
    fn for_preflight(
        py: Python<'_>,
        routes: Vec<(String, Option<Py<RoutePolicy>>)>,
        requested: &str,
    ) -> Option<Py<RoutePolicy>> {
        let route_for = |method: &str| routes.iter().find(|(m, _)| m == method);
        let asked = match route_for(requested)
            .or_else(|| (requested == "HEAD").then(|| route_for("GET")).flatten())
        {
            Some((_, policy)) => Asked::Route(policy.as_ref()),
            None if routes.is_empty() => Asked::NoRoute,
            None => Asked::OtherMethods,
        };
        preflight_policy(asked, routes.iter().map(|(_, p)| p.as_ref()), |p| {
            p.get().core.cors.is_some()
        })
        .map(|p| p.clone_ref(py))
    }

    /// The `WWW-Authenticate` challenge of this route's 401 answers (Python's too).
    #[getter]
    fn challenge(&self) -> String {
        self.core.challenge.to_str().unwrap_or("Bearer").to_owned()
    }
}

fn header_map(headers: &[(String, String)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        if let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            map.append(k, v);
        }
    }
    map
}

type Parts = (u16, Vec<(String, String)>, Vec<u8>);

fn reject_parts(resp: HttpResponse) -> Parts {
    let status = resp.status().as_u16();
    let headers: Vec<(String, String)> = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let body = match resp.into_body().try_into_bytes() {
        Ok(b) => b.to_vec(),
        Err(_) => Vec::new(),
    };
    (status, headers, body)
}

fn reject_tuple<'py>(py: Python<'py>, parts: Parts) -> PyResult<Bound<'py, PyAny>> {
    let (status, headers, body) = parts;
    Ok((
        "reject",
        status,
        headers,
        pyo3::types::PyBytes::new(py, &body),
    )
        .into_pyobject(py)?
        .into_any())
}
