//! Signing tokens: `jwt_encode` for `create_jwt_for_user` and friends.

use jsonwebtoken::EncodingKey;
use pyo3::prelude::*;
use serde_json::{Map, Value};

use super::algorithms::{family, parse_algorithm, Family, MIN_HS_SECRET};
use super::errors::AuthError;

/// Signs `claims` (a JSON object) with `algorithm` and `key`.
pub fn encode(
    claims: &Map<String, Value>,
    algorithm: &str,
    key: &[u8],
) -> Result<String, AuthError> {
    let alg = parse_algorithm(algorithm)?;
    let invalid = |kind| move |error| AuthError::InvalidKey { kind, error };
    let key = match family(alg) {
        Family::Hmac => {
            if key.len() < MIN_HS_SECRET {
                return Err(AuthError::ShortSecret {
                    len: key.len(),
                    min: MIN_HS_SECRET,
                });
            }
            EncodingKey::from_secret(key)
        }
        Family::Rsa => EncodingKey::from_rsa_pem(key).map_err(invalid("RSA private"))?,
        Family::Ec => EncodingKey::from_ec_pem(key).map_err(invalid("EC private"))?,
        Family::Ed => EncodingKey::from_ed_pem(key).map_err(invalid("Ed25519 private"))?,
    };
    jsonwebtoken::encode(&jsonwebtoken::Header::new(alg), claims, &key).map_err(AuthError::Sign)
}

/// Signs `claims` (a JSON object, as bytes or str) with `algorithm` and `key`.
#[pyfunction]
pub fn jwt_encode(claims: &[u8], algorithm: &str, key: &[u8]) -> PyResult<String> {
    let claims: Map<String, Value> = serde_json::from_slice(claims).map_err(AuthError::Claims)?;
    Ok(encode(&claims, algorithm, key)?)
}
