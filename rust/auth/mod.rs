//! Credentials checked in Rust: JWT (HMAC, RSA, ECDSA, EdDSA) and static API keys.
//!
//! An authenticator looks at the request headers and answers one of three ways: no
//! credential of its kind was presented, a credential was presented and is valid (an
//! `Identity`), or it was presented and is not (a `Rejection`, reported in the 401 only
//! when a guard requires authentication).

pub mod algorithms;
pub mod api_key;
pub mod errors;
pub mod identity;
pub mod jwt;
pub mod sign;
pub mod source;

use pyo3::prelude::*;

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(sign::jwt_encode, m)?)?;
    m.add_function(wrap_pyfunction!(sign::jwt_decode, m)?)?;
    Ok(())
}
