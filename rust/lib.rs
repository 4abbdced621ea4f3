//! django_bolt._core: wires the modules; each module owns one concern.

#[path = "auth/jwt.rs"]
pub mod auth;
#[path = "store/backend.rs"]
pub mod backend;
#[path = "bridge/queue.rs"]
pub mod bridge;
#[path = "http/compress.rs"]
pub mod compress;
#[path = "http/cors.rs"]
pub mod cors;
#[path = "server/dispatch.rs"]
pub mod dispatch;
#[path = "bridge/fastpath.rs"]
pub mod fastpath;
#[path = "http/form.rs"]
pub mod form;
#[path = "ws/groups.rs"]
pub mod groups;
#[path = "bridge/job.rs"]
pub mod job;
#[path = "policy/gate.rs"]
pub mod policy;
pub mod router;
#[path = "server/http_server.rs"]
pub mod server;
#[path = "server/test_app.rs"]
pub mod testing;
#[path = "ws/channel.rs"]
pub mod websocket;

use pyo3::prelude::*;

// Request handling allocates many small short-lived buffers; mimalloc keeps that cheap.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Signs `claims` (a JSON object, as bytes or str) with `algorithm` and `key`.
#[pyfunction]
fn jwt_encode(claims: &[u8], algorithm: &str, key: &[u8]) -> PyResult<String> {
    let claims: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(claims)
        .map_err(|e| {
            pyo3::exceptions::PyValueError::new_err(format!("claims must be a JSON object: {e}"))
        })?;
    auth::encode(&claims, algorithm, key).map_err(pyo3::exceptions::PyValueError::new_err)
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<bridge::Bridge>()?;
    m.add_class::<job::Job>()?;
    m.add_class::<fastpath::FastPlan>()?;
    m.add_class::<job::StreamWriter>()?;
    m.add_class::<server::Server>()?;
    m.add_class::<testing::TestApp>()?;
    m.add_class::<policy::RoutePolicy>()?;
    m.add_class::<backend::Backend>()?;
    m.add_class::<websocket::WebSocketChannel>()?;
    m.add_class::<groups::GroupHub>()?;
    m.add_function(wrap_pyfunction!(jwt_encode, m)?)?;
    m.add_function(wrap_pyfunction!(server::use_batch_scheduling, m)?)?;
    m.add("DJANGO_FALLBACK", job::DJANGO_FALLBACK)?;
    Ok(())
}
