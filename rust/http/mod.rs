//! The HTTP floor: JSON error answers, request bodies and forms, path parameters,
//! compression, CORS, origin checks and Django's security headers. Nothing here knows about policies, Python or
//! the server.

pub mod body;
pub mod compress;
pub mod cors;
pub mod errors;
pub mod form;
pub mod framing;
pub mod origins;
pub mod params;
pub mod request_id;
pub mod response_cache;
pub mod security;
