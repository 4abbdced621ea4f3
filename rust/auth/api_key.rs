//! Static API keys: only their SHA-256 digests are kept, and a presented key is compared
//! with every one in constant time.

use actix_web::http::header::HeaderMap;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::errors::{AuthError, Rejection};
use super::identity::{Identity, Outcome};
use super::source::CredentialSource;

struct ApiKey {
    digest: [u8; 32],
    name: String,
    permissions: Vec<String>,
}

pub struct ApiKeyAuth {
    pub source: CredentialSource,
    keys: Vec<ApiKey>,
}

fn digest(key: &[u8]) -> [u8; 32] {
    Sha256::digest(key).into()
}

impl ApiKeyAuth {
    /// `keys` holds `(key, name, permissions)`; only SHA-256 digests are kept.
    pub fn new(
        source: CredentialSource,
        keys: Vec<(String, String, Vec<String>)>,
    ) -> Result<Self, AuthError> {
        if keys.is_empty() {
            return Err(AuthError::NoApiKeys);
        }
        let mut out = Vec::with_capacity(keys.len());
        for (key, name, permissions) in keys {
            if key.is_empty() {
                return Err(AuthError::EmptyApiKey(name));
            }
            out.push(ApiKey {
                digest: digest(key.as_bytes()),
                name,
                permissions,
            });
        }
        Ok(Self { source, keys: out })
    }

    pub fn authenticate(&self, headers: &HeaderMap, query: &str) -> Outcome {
        let Some(presented) = self.source.find(headers, query) else {
            return Outcome::Absent;
        };
        let presented = digest(presented.as_bytes());
        // Compare with every key so the time taken does not depend on which one matched.
        let mut found: Option<&ApiKey> = None;
        for key in &self.keys {
            if bool::from(key.digest.ct_eq(&presented)) {
                found = Some(key);
            }
        }
        match found {
            Some(key) => Outcome::Valid(Identity {
                backend: "api_key",
                user_id: None,
                permissions: key.permissions.clone(),
                key_name: Some(key.name.clone()),
                ..Identity::default()
            }),
            None => Outcome::Invalid(Rejection::InvalidApiKey),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    #[test]
    fn api_keys_match_by_digest() {
        let auth = ApiKeyAuth::new(
            CredentialSource {
                header: HeaderName::from_static("x-api-key"),
                scheme: String::new(),
                cookie: None,
                query: None,
            },
            vec![("k-one".into(), "one".into(), vec!["p".into()])],
        )
        .unwrap();
        let mut headers = HeaderMap::new();
        assert!(matches!(auth.authenticate(&headers, ""), Outcome::Absent));
        headers.insert(
            HeaderName::from_static("x-api-key"),
            HeaderValue::from_static("k-two"),
        );
        assert!(matches!(
            auth.authenticate(&headers, ""),
            Outcome::Invalid(_)
        ));
        headers.insert(
            HeaderName::from_static("x-api-key"),
            HeaderValue::from_static("k-one"),
        );
        match auth.authenticate(&headers, "") {
            Outcome::Valid(id) => {
                assert_eq!(id.key_name.as_deref(), Some("one"));
                assert!(id.has_permission("p"));
            }
            other => panic!("{other:?}"),
        }
        assert!(ApiKeyAuth::new(auth.source.clone(), vec![]).is_err());
    }
}
