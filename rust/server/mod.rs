//! The top: the Actix service that dispatches every request, the server that runs it on
//! a socket, and the in-process test app that runs it without one.

pub mod access_log;
pub mod connection;
pub mod dispatch;
pub mod django;
pub mod gate;
pub mod http_server;
pub mod limits;
pub mod log_text;
pub mod reply;
pub mod routes;
pub mod scheduling;
pub mod settings;
pub mod state;
pub mod test_app;
pub mod tls;
pub mod upgrade;

use pyo3::prelude::*;

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<http_server::Server>()?;
    m.add_class::<test_app::TestApp>()?;
    m.add_class::<settings::ServerSettings>()?;
    m.add_function(wrap_pyfunction!(scheduling::use_batch_scheduling, m)?)?;
    Ok(())
}
