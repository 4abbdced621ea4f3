//! What authentication can fail with: settings or signing requests Rust refuses, and
//! the reasons a presented credential is rejected.

use std::fmt;

use pyo3::exceptions::PyValueError;
use pyo3::PyErr;

/// An authentication setting or a signing request Rust refuses (ValueError).
#[derive(Debug)]
pub enum AuthError {
    NoAlgorithm,
    UnsupportedAlgorithm(String),
    MixedFamilies(Vec<String>),
    /// A `len`-byte HMAC secret where at least `min` bytes are needed.
    ShortSecret {
        len: usize,
        min: usize,
    },
    PemForHmac,
    /// `kind` names the key, e.g. "RSA public" or "EC private".
    InvalidKey {
        kind: &'static str,
        error: jsonwebtoken::errors::Error,
    },
    /// A key `jsonwebtoken` does not read (P-521 for ES512) that is not valid PEM.
    InvalidPem {
        kind: &'static str,
    },
    NoApiKeys,
    EmptyApiKey(String),
    Claims(serde_json::Error),
    Sign(jsonwebtoken::errors::Error),
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoAlgorithm => f.write_str("JWT authentication needs at least one algorithm"),
            Self::UnsupportedAlgorithm(name) => write!(f, "unsupported JWT algorithm {name:?}"),
            Self::MixedFamilies(algorithms) => write!(
                f,
                "JWT algorithms {algorithms:?} mix key types; one key serves one family (HS*, RS*/PS*, ES* or EdDSA)"
            ),
            Self::ShortSecret { len, min } => write!(
                f,
                "the JWT secret is {len} bytes; HMAC secrets must be at least {min} bytes: set JWT_SECRET_KEY (or secret=) to a longer one"
            ),
            Self::PemForHmac => {
                f.write_str("an HS* algorithm was given a PEM key; use RS*/ES* with PEM keys")
            }
            Self::InvalidKey { kind, error } => write!(f, "invalid {kind} key: {error}"),
            Self::InvalidPem { kind } => write!(f, "invalid {kind} key: expected a PEM key"),
            Self::NoApiKeys => f.write_str("API key authentication was configured with no keys"),
            Self::EmptyApiKey(name) => write!(f, "API key {name:?} is empty"),
            Self::Claims(e) => write!(f, "claims must be a JSON object: {e}"),
            Self::Sign(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for AuthError {}

impl From<AuthError> for PyErr {
    fn from(e: AuthError) -> Self {
        PyValueError::new_err(e.to_string())
    }
}

/// Why a presented credential was refused: the detail of the 401 (never raised in
/// Python).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    TooLarge,
    Malformed,
    CriticalHeader,
    AlgorithmNotAllowed,
    BadSignature,
    MissingClaim(String),
    MalformedClaim(String),
    Expired,
    NotYetValid,
    IssuerNotAccepted,
    AudienceNotAccepted,
    NoJti,
    Revoked,
    RevocationUnchecked,
    InvalidApiKey,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge => f.write_str("token too large"),
            Self::Malformed => f.write_str("malformed token"),
            Self::CriticalHeader => f.write_str("token has critical header extensions"),
            Self::AlgorithmNotAllowed => f.write_str("token algorithm is not allowed"),
            Self::BadSignature => f.write_str("invalid token signature"),
            Self::MissingClaim(name) => write!(f, "token is missing the {name:?} claim"),
            Self::MalformedClaim(name) => write!(f, "token claim {name:?} is malformed"),
            Self::Expired => f.write_str("token has expired"),
            Self::NotYetValid => f.write_str("token is not valid yet"),
            Self::IssuerNotAccepted => f.write_str("token issuer is not accepted"),
            Self::AudienceNotAccepted => f.write_str("token audience is not accepted"),
            Self::NoJti => f.write_str("token has no jti claim, which revocation requires"),
            Self::Revoked => f.write_str("token has been revoked"),
            Self::RevocationUnchecked => f.write_str("token revocation could not be checked"),
            Self::InvalidApiKey => f.write_str("invalid API key"),
        }
    }
}

impl std::error::Error for Rejection {}
