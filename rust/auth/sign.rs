//! Signing and checking tokens for Python: `jwt_encode` for `create_jwt_for_user` and
//! friends, `jwt_decode` for `decode_jwt`.

use base64::Engine;
use jsonwebtoken::EncodingKey;
use p521::ecdsa::signature::Signer;
use pyo3::prelude::*;
use serde_json::{Map, Value};

use super::algorithms::{family, parse_algorithm, Alg, Family, MIN_HS_SECRET};
use super::errors::AuthError;
use super::jwt::{JwtAuth, JwtSettings};
use super::source::CredentialSource;

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
        Family::P521 => return encode_es512(claims, key),
    };
    let Alg::Std(alg) = alg else {
        unreachable!("ES512 is signed above")
    };
    jsonwebtoken::encode(&jsonwebtoken::Header::new(alg), claims, &key).map_err(AuthError::Sign)
}

/// A P-521 private key from PEM: PKCS#8 (`BEGIN PRIVATE KEY`) or SEC1 (`BEGIN EC
/// PRIVATE KEY`).
fn p521_signing_key(pem: &[u8]) -> Result<p521::ecdsa::SigningKey, AuthError> {
    use p521::pkcs8::DecodePrivateKey;
    let invalid = AuthError::InvalidPem {
        kind: "P-521 private",
    };
    let text = std::str::from_utf8(pem).map_err(|_| AuthError::InvalidPem {
        kind: "P-521 private",
    })?;
    let secret = p521::SecretKey::from_pkcs8_pem(text)
        .or_else(|_| p521::SecretKey::from_sec1_pem(text))
        .map_err(|_| invalid)?;
    p521::ecdsa::SigningKey::from_bytes(&secret.to_bytes()).map_err(|_| AuthError::InvalidPem {
        kind: "P-521 private",
    })
}

fn encode_es512(claims: &Map<String, Value>, key: &[u8]) -> Result<String, AuthError> {
    let signing = p521_signing_key(key)?;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = b64.encode(br#"{"typ":"JWT","alg":"ES512"}"#);
    let payload = serde_json::to_vec(claims).map_err(AuthError::Claims)?;
    let input = format!("{header}.{}", b64.encode(payload));
    let signature: p521::ecdsa::Signature = signing.sign(input.as_bytes());
    Ok(format!("{input}.{}", b64.encode(signature.to_bytes())))
}

/// Signs `claims` (a JSON object, as bytes or str) with `algorithm` and `key`.
#[pyfunction]
pub fn jwt_encode(claims: &[u8], algorithm: &str, key: &[u8]) -> PyResult<String> {
    let claims: Map<String, Value> = serde_json::from_slice(claims).map_err(AuthError::Claims)?;
    Ok(encode(&claims, algorithm, key)?)
}

/// Verifies `token` as JWTAuthentication would (signature, algorithm, exp/nbf, and aud /
/// iss when given): `(claims as JSON bytes, None)`, or `(None, reason)` when refused.
/// A configuration Rust refuses (a short secret, an unknown algorithm) raises ValueError.
#[pyfunction]
#[pyo3(signature = (token, algorithms, key, audience=None, issuer=None, leeway=0))]
pub fn jwt_decode(
    py: Python<'_>,
    token: &str,
    algorithms: Vec<String>,
    key: &[u8],
    audience: Option<Vec<String>>,
    issuer: Option<Vec<String>>,
    leeway: u64,
) -> PyResult<(Option<Vec<u8>>, Option<String>)> {
    let auth = JwtAuth::new(
        JwtSettings {
            algorithms,
            key: key.to_vec(),
            audience,
            issuer,
            leeway,
            require: vec!["exp".into()],
        },
        CredentialSource::authorization_bearer(),
        None,
    )?;
    Ok(py.detach(|| match auth.verify(token) {
        Ok(claims) => (serde_json::to_vec(&claims).ok(), None),
        Err(reason) => (None, Some(reason.to_string())),
    }))
}
