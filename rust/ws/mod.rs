//! WebSocket routes: the connection's shared state and Python channel, the handshake,
//! the frame task, and broadcast groups.

pub mod channel;
pub mod frames;
pub mod group_hub;
pub mod groups;
pub mod guard;
pub mod handshake;

use pyo3::prelude::*;

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<channel::WebSocketChannel>()?;
    m.add_class::<group_hub::GroupHub>()?;
    Ok(())
}
