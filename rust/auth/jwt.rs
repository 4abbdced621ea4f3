//! Credentials checked in Rust: JWT (HMAC, RSA, ECDSA, EdDSA) and static API keys.
//!
//! An authenticator looks at the request headers and answers one of three ways: no
//! credential of its kind was presented, a credential was presented and is valid (an
//! `Identity`), or it was presented and is not (a reason, reported in the 401 only when a
//! guard requires authentication).

use std::collections::HashSet;

use actix_web::http::header::{HeaderMap, HeaderName, AUTHORIZATION, COOKIE};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Validation};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::backend::Revocation;

/// Tokens longer than this are refused before any decoding work.
pub const MAX_TOKEN_BYTES: usize = 8192;

/// Who a request authenticated as, and what the credential grants.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    pub backend: &'static str,
    pub user_id: Option<String>,
    pub is_staff: bool,
    pub is_superuser: bool,
    pub permissions: Vec<String>,
    pub roles: Vec<String>,
    /// The JWT claims, or None for API keys.
    pub claims: Option<Map<String, Value>>,
    /// The API key's name (never the key itself).
    pub key_name: Option<String>,
}

impl Identity {
    pub fn has_permission(&self, perm: &str) -> bool {
        self.is_superuser || self.permissions.iter().any(|p| p == perm || p == "*")
    }

    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

#[derive(Debug)]
pub enum Outcome {
    Absent,
    Valid(Identity),
    Invalid(String),
}

/// Where a credential is read from.
#[derive(Debug, Clone)]
pub struct CredentialSource {
    pub header: HeaderName,
    /// `Bearer` for `Authorization: Bearer <token>`; empty for the raw header value.
    pub scheme: String,
    pub cookie: Option<String>,
    pub query: Option<String>,
}

impl CredentialSource {
    /// The credential from the header (with the scheme stripped), else the cookie, else the
    /// query parameter. A header with another scheme counts as absent for this source.
    pub fn find<'a>(&self, headers: &'a HeaderMap, query: &'a str) -> Option<String> {
        if let Some(value) = headers.get(&self.header) {
            let raw = value.to_str().ok()?.trim();
            if self.scheme.is_empty() {
                return (!raw.is_empty()).then(|| raw.to_owned());
            }
            let (scheme, rest) = raw.split_once(' ').unwrap_or((raw, ""));
            if scheme.eq_ignore_ascii_case(&self.scheme) {
                let token = rest.trim();
                return (!token.is_empty()).then(|| token.to_owned());
            }
            if self.cookie.is_none() && self.query.is_none() {
                return None;
            }
        }
        if let Some(name) = &self.cookie {
            for value in headers.get_all(COOKIE) {
                let Ok(text) = value.to_str() else { continue };
                for pair in text.split(';') {
                    if let Some((k, v)) = pair.trim().split_once('=') {
                        if k == name && !v.is_empty() {
                            return Some(v.trim_matches('"').to_owned());
                        }
                    }
                }
            }
        }
        if let Some(name) = &self.query {
            for (k, v) in form_urlencoded::parse(query.as_bytes()) {
                if k == name.as_str() && !v.is_empty() {
                    return Some(v.into_owned());
                }
            }
        }
        None
    }
}

pub struct JwtAuth {
    pub source: CredentialSource,
    key: DecodingKey,
    validation: Validation,
    /// HMAC keys, already keyed (cloning one skips hashing the key per request).
    hmac: Option<HmacKeys>,
    pub revocation: Option<Revocation>,
}

/// HS256/384/512 verified here directly: one JSON parse of the claims instead of two,
/// and a pre-keyed HMAC state.
struct HmacKeys {
    allowed: Vec<Algorithm>,
    hs256: hmac::Hmac<sha2::Sha256>,
    hs384: hmac::Hmac<sha2::Sha384>,
    hs512: hmac::Hmac<sha2::Sha512>,
}

#[derive(serde::Deserialize)]
struct JoseHeader {
    alg: String,
    #[serde(default)]
    crit: Option<Value>,
}

fn b64url(part: &str) -> Result<Vec<u8>, String> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| "malformed token".to_string())
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn numeric(claims: &Map<String, Value>, name: &str) -> Result<Option<f64>, String> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_f64()
            .map(Some)
            .ok_or_else(|| format!("token claim {name:?} is malformed")),
        Some(_) => Err(format!("token claim {name:?} is malformed")),
    }
}

impl HmacKeys {
    fn new(key: &[u8], allowed: Vec<Algorithm>) -> Self {
        use hmac::Mac;
        Self {
            allowed,
            hs256: hmac::Hmac::new_from_slice(key).expect("HMAC takes any key length"),
            hs384: hmac::Hmac::new_from_slice(key).expect("HMAC takes any key length"),
            hs512: hmac::Hmac::new_from_slice(key).expect("HMAC takes any key length"),
        }
    }

    fn verify_signature(&self, alg: Algorithm, input: &[u8], sig: &[u8]) -> bool {
        use hmac::Mac;
        match alg {
            Algorithm::HS256 => {
                let mut m = self.hs256.clone();
                m.update(input);
                m.verify_slice(sig).is_ok()
            }
            Algorithm::HS384 => {
                let mut m = self.hs384.clone();
                m.update(input);
                m.verify_slice(sig).is_ok()
            }
            Algorithm::HS512 => {
                let mut m = self.hs512.clone();
                m.update(input);
                m.verify_slice(sig).is_ok()
            }
            _ => false,
        }
    }
}

/// Parses an algorithm name; `none` in any spelling is not one.
pub fn parse_algorithm(name: &str) -> Result<Algorithm, String> {
    let alg = match name.to_ascii_uppercase().as_str() {
        "HS256" => Algorithm::HS256,
        "HS384" => Algorithm::HS384,
        "HS512" => Algorithm::HS512,
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        "EDDSA" => Algorithm::EdDSA,
        _ => return Err(format!("unsupported JWT algorithm {name:?}")),
    };
    Ok(alg)
}

#[derive(PartialEq, Eq, Debug, Clone, Copy)]
enum Family {
    Hmac,
    Rsa,
    Ec,
    Ed,
}

fn family(alg: Algorithm) -> Family {
    match alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => Family::Hmac,
        Algorithm::ES256 | Algorithm::ES384 => Family::Ec,
        Algorithm::EdDSA => Family::Ed,
        _ => Family::Rsa,
    }
}

/// The minimum HMAC secret length we accept (RFC 7518 asks for at least the hash size).
pub const MIN_HS_SECRET: usize = 32;

pub struct JwtSettings {
    pub algorithms: Vec<String>,
    pub key: Vec<u8>,
    pub audience: Option<Vec<String>>,
    pub issuer: Option<Vec<String>>,
    pub leeway: u64,
    pub require: Vec<String>,
}

fn one_family(algorithms: &[String]) -> Result<(Vec<Algorithm>, Family), String> {
    if algorithms.is_empty() {
        return Err("JWT authentication needs at least one algorithm".into());
    }
    let algs = algorithms
        .iter()
        .map(|a| parse_algorithm(a))
        .collect::<Result<Vec<_>, _>>()?;
    let fam = family(algs[0]);
    if algs.iter().any(|a| family(*a) != fam) {
        return Err(format!(
            "JWT algorithms {algorithms:?} mix key types; one key serves one family (HS*, RS*/PS*, ES* or EdDSA)"
        ));
    }
    Ok((algs, fam))
}

impl JwtAuth {
    pub fn new(
        settings: JwtSettings,
        source: CredentialSource,
        revocation: Option<Revocation>,
    ) -> Result<Self, String> {
        let (algs, fam) = one_family(&settings.algorithms)?;
        let key = match fam {
            Family::Hmac => {
                if settings.key.len() < MIN_HS_SECRET {
                    return Err(format!(
                        "the JWT secret is {} bytes; HMAC secrets must be at least {MIN_HS_SECRET} bytes",
                        settings.key.len()
                    ));
                }
                if settings.key.starts_with(b"-----BEGIN") {
                    return Err(
                        "an HS* algorithm was given a PEM key; use RS*/ES* with PEM keys".into(),
                    );
                }
                DecodingKey::from_secret(&settings.key)
            }
            Family::Rsa => DecodingKey::from_rsa_pem(&settings.key)
                .map_err(|e| format!("invalid RSA public key: {e}"))?,
            Family::Ec => DecodingKey::from_ec_pem(&settings.key)
                .map_err(|e| format!("invalid EC public key: {e}"))?,
            Family::Ed => DecodingKey::from_ed_pem(&settings.key)
                .map_err(|e| format!("invalid Ed25519 public key: {e}"))?,
        };
        let mut validation = Validation::new(algs[0]);
        validation.algorithms = algs;
        validation.leeway = settings.leeway;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        let mut required: HashSet<String> = settings.require.into_iter().collect();
        validation.validate_aud = settings.audience.is_some();
        if let Some(aud) = &settings.audience {
            validation.set_audience(aud);
            required.insert("aud".into());
        }
        if let Some(iss) = &settings.issuer {
            validation.set_issuer(iss);
            required.insert("iss".into());
        }
        validation.required_spec_claims = required;
        let hmac = (fam == Family::Hmac)
            .then(|| HmacKeys::new(&settings.key, validation.algorithms.clone()));
        Ok(Self {
            source,
            key,
            validation,
            hmac,
            revocation,
        })
    }

    pub fn verify(&self, token: &str) -> Result<Map<String, Value>, String> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err("token too large".into());
        }
        if token.bytes().filter(|b| *b == b'.').count() != 2 {
            return Err("malformed token".into());
        }
        if let Some(keys) = &self.hmac {
            return self.verify_hmac(keys, token);
        }
        jsonwebtoken::decode::<Map<String, Value>>(token, &self.key, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| describe(e.kind()))
    }

    fn verify_hmac(&self, keys: &HmacKeys, token: &str) -> Result<Map<String, Value>, String> {
        let (input, sig) = token.rsplit_once('.').ok_or("malformed token")?;
        let (header, payload) = input.split_once('.').ok_or("malformed token")?;
        let header: JoseHeader =
            serde_json::from_slice(&b64url(header)?).map_err(|_| "malformed token".to_string())?;
        if header.crit.is_some() {
            return Err("token has critical header extensions".into());
        }
        // Exact names only: "none", "hs256" or an RSA algorithm are not allowed here.
        let alg = match header.alg.as_str() {
            "HS256" => Algorithm::HS256,
            "HS384" => Algorithm::HS384,
            "HS512" => Algorithm::HS512,
            _ => return Err("token algorithm is not allowed".into()),
        };
        if !keys.allowed.contains(&alg) {
            return Err("token algorithm is not allowed".into());
        }
        if !keys.verify_signature(alg, input.as_bytes(), &b64url(sig)?) {
            return Err("invalid token signature".into());
        }
        let claims: Map<String, Value> =
            serde_json::from_slice(&b64url(payload)?).map_err(|_| "malformed token".to_string())?;
        self.validate(&claims)?;
        Ok(claims)
    }

    /// The registered-claim checks of RFC 7519 (exp, nbf, aud, iss) as configured.
    fn validate(&self, claims: &Map<String, Value>) -> Result<(), String> {
        let v = &self.validation;
        for name in &v.required_spec_claims {
            if !claims.contains_key(name.as_str()) {
                return Err(format!("token is missing the {name:?} claim"));
            }
        }
        let now = now_secs() as f64;
        let leeway = v.leeway as f64;
        if let Some(exp) = numeric(claims, "exp")? {
            if exp < now - leeway {
                return Err("token has expired".into());
            }
        }
        if let Some(nbf) = numeric(claims, "nbf")? {
            if nbf > now + leeway {
                return Err("token is not valid yet".into());
            }
        }
        if let Some(allowed) = &v.iss {
            let ok = matches!(claims.get("iss"), Some(Value::String(s)) if allowed.contains(s));
            if !ok {
                return Err("token issuer is not accepted".into());
            }
        }
        if let Some(allowed) = &v.aud {
            let ok = match claims.get("aud") {
                Some(Value::String(s)) => allowed.contains(s),
                Some(Value::Array(items)) => items
                    .iter()
                    .any(|i| i.as_str().is_some_and(|s| allowed.contains(s))),
                _ => false,
            };
            if !ok {
                return Err("token audience is not accepted".into());
            }
        }
        Ok(())
    }

    pub fn authenticate(&self, headers: &HeaderMap, query: &str) -> Outcome {
        let Some(token) = self.source.find(headers, query) else {
            return Outcome::Absent;
        };
        match self.verify(&token) {
            Ok(claims) => Outcome::Valid(identity_from_claims(claims)),
            Err(reason) => Outcome::Invalid(reason),
        }
    }
}

fn describe(kind: &jsonwebtoken::errors::ErrorKind) -> String {
    use jsonwebtoken::errors::ErrorKind as K;
    match kind {
        K::ExpiredSignature => "token has expired".into(),
        K::ImmatureSignature => "token is not valid yet".into(),
        K::InvalidAudience => "token audience is not accepted".into(),
        K::InvalidIssuer => "token issuer is not accepted".into(),
        K::InvalidSignature => "invalid token signature".into(),
        K::InvalidAlgorithm | K::InvalidAlgorithmName | K::UnsupportedAlgorithm => {
            "token algorithm is not allowed".into()
        }
        K::MissingRequiredClaim(c) => format!("token is missing the {c:?} claim"),
        K::InvalidClaimFormat(c) => format!("token claim {c:?} is malformed"),
        _ => "malformed token".into(),
    }
}

fn string_list(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

fn scalar_string(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Reads the user id (`sub`, else `user_id`), staff/superuser flags, permissions
/// (`permissions` or `perms`) and roles (`roles` or `role`) embedded at token creation.
pub fn identity_from_claims(claims: Map<String, Value>) -> Identity {
    let user_id = scalar_string(claims.get("sub")).or_else(|| scalar_string(claims.get("user_id")));
    let flag = |name: &str| claims.get(name).and_then(Value::as_bool).unwrap_or(false);
    let mut permissions = string_list(claims.get("permissions"));
    permissions.extend(string_list(claims.get("perms")));
    let mut roles = string_list(claims.get("roles"));
    roles.extend(string_list(claims.get("role")));
    Identity {
        backend: "jwt",
        user_id,
        is_staff: flag("is_staff"),
        is_superuser: flag("is_superuser"),
        permissions,
        roles,
        claims: Some(claims),
        key_name: None,
    }
}

/// Signs `claims` (a JSON object) for `create_jwt_for_user` and friends.
pub fn encode(claims: &Map<String, Value>, algorithm: &str, key: &[u8]) -> Result<String, String> {
    let alg = parse_algorithm(algorithm)?;
    let key = match family(alg) {
        Family::Hmac => {
            if key.len() < MIN_HS_SECRET {
                return Err(format!(
                    "the JWT secret is {} bytes; HMAC secrets must be at least {MIN_HS_SECRET} bytes",
                    key.len()
                ));
            }
            EncodingKey::from_secret(key)
        }
        Family::Rsa => {
            EncodingKey::from_rsa_pem(key).map_err(|e| format!("invalid RSA private key: {e}"))?
        }
        Family::Ec => {
            EncodingKey::from_ec_pem(key).map_err(|e| format!("invalid EC private key: {e}"))?
        }
        Family::Ed => EncodingKey::from_ed_pem(key)
            .map_err(|e| format!("invalid Ed25519 private key: {e}"))?,
    };
    jsonwebtoken::encode(&jsonwebtoken::Header::new(alg), claims, &key).map_err(|e| e.to_string())
}

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
    ) -> Result<Self, String> {
        if keys.is_empty() {
            return Err("API key authentication was configured with no keys".into());
        }
        let mut out = Vec::with_capacity(keys.len());
        for (key, name, permissions) in keys {
            if key.is_empty() {
                return Err(format!("API key {name:?} is empty"));
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
            None => Outcome::Invalid("invalid API key".into()),
        }
    }
}

pub fn bearer_source() -> CredentialSource {
    CredentialSource {
        header: AUTHORIZATION,
        scheme: "Bearer".into(),
        cookie: None,
        query: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderValue;
    use serde_json::json;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn now() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    }

    fn hs(algs: &[&str]) -> JwtAuth {
        JwtAuth::new(
            JwtSettings {
                algorithms: algs.iter().map(|s| s.to_string()).collect(),
                key: SECRET.to_vec(),
                audience: None,
                issuer: None,
                leeway: 0,
                require: vec!["exp".into()],
            },
            bearer_source(),
            None,
        )
        .unwrap()
    }

    fn token(claims: Value, alg: &str) -> String {
        encode(claims.as_object().unwrap(), alg, SECRET).unwrap()
    }

    #[test]
    fn accepts_valid_and_reads_identity() {
        let auth = hs(&["HS256"]);
        let t = token(
            json!({"sub": "7", "exp": now() + 60, "is_staff": true, "permissions": ["a.b"], "role": "admin"}),
            "HS256",
        );
        let id = identity_from_claims(auth.verify(&t).unwrap());
        assert_eq!(id.user_id.as_deref(), Some("7"));
        assert!(id.is_staff && !id.is_superuser);
        assert!(id.has_permission("a.b") && !id.has_permission("a.c"));
        assert!(id.has_role("admin"));
    }

    #[test]
    fn rejects_expired_future_and_missing_exp() {
        let auth = hs(&["HS256"]);
        let expired = token(json!({"sub": "1", "exp": now() - 10}), "HS256");
        assert_eq!(auth.verify(&expired).unwrap_err(), "token has expired");
        let early = token(
            json!({"sub": "1", "exp": now() + 60, "nbf": now() + 30}),
            "HS256",
        );
        assert_eq!(auth.verify(&early).unwrap_err(), "token is not valid yet");
        let no_exp = token(json!({"sub": "1"}), "HS256");
        assert!(auth.verify(&no_exp).unwrap_err().contains("exp"));
    }

    #[test]
    fn rejects_other_algorithms_and_none() {
        let auth = hs(&["HS256"]);
        let t = token(json!({"sub": "1", "exp": now() + 60}), "HS512");
        assert_eq!(
            auth.verify(&t).unwrap_err(),
            "token algorithm is not allowed"
        );
        // {"alg":"none","typ":"JWT"} . {"sub":"1","exp":9999999999} . (empty)
        let none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiIxIiwiZXhwIjo5OTk5OTk5OTk5fQ.";
        assert!(auth.verify(none).is_err());
        assert_eq!(auth.verify("a.b").unwrap_err(), "malformed token");
        assert_eq!(auth.verify("a.b.c.d").unwrap_err(), "malformed token");
        assert_eq!(auth.verify("!!.@@.##").unwrap_err(), "malformed token");
        assert_eq!(
            auth.verify(&"a".repeat(MAX_TOKEN_BYTES + 1)).unwrap_err(),
            "token too large"
        );
    }

    #[test]
    fn audience_issuer_leeway_and_tampering() {
        let auth = JwtAuth::new(
            JwtSettings {
                algorithms: vec!["HS256".into(), "HS512".into()],
                key: SECRET.to_vec(),
                audience: Some(vec!["api".into()]),
                issuer: Some(vec!["me".into()]),
                leeway: 30,
                require: vec!["exp".into()],
            },
            bearer_source(),
            None,
        )
        .unwrap();
        let ok = json!({"sub": "1", "exp": now() - 10, "aud": ["x", "api"], "iss": "me"});
        assert!(
            auth.verify(&token(ok.clone(), "HS512")).is_ok(),
            "within leeway"
        );
        let late = json!({"sub": "1", "exp": now() - 60, "aud": "api", "iss": "me"});
        assert_eq!(
            auth.verify(&token(late, "HS256")).unwrap_err(),
            "token has expired"
        );
        let aud = json!({"sub": "1", "exp": now() + 60, "aud": "other", "iss": "me"});
        assert_eq!(
            auth.verify(&token(aud, "HS256")).unwrap_err(),
            "token audience is not accepted"
        );
        let no_aud = json!({"sub": "1", "exp": now() + 60, "iss": "me"});
        assert!(auth
            .verify(&token(no_aud, "HS256"))
            .unwrap_err()
            .contains("aud"));
        let iss = json!({"sub": "1", "exp": now() + 60, "aud": "api", "iss": "you"});
        assert_eq!(
            auth.verify(&token(iss, "HS256")).unwrap_err(),
            "token issuer is not accepted"
        );
        let bad_exp = json!({"sub": "1", "exp": "soon", "aud": "api", "iss": "me"});
        assert!(auth
            .verify(&token(bad_exp, "HS256"))
            .unwrap_err()
            .contains("malformed"));
        // Changing one claim breaks the signature.
        let good = token(
            json!({"sub": "1", "exp": now() + 60, "aud": "api", "iss": "me"}),
            "HS256",
        );
        let parts: Vec<&str> = good.split('.').collect();
        use base64::Engine;
        let forged_claims = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"sub":"2","exp":9999999999,"aud":"api","iss":"me"}"#);
        let forged = format!("{}.{}.{}", parts[0], forged_claims, parts[2]);
        assert_eq!(auth.verify(&forged).unwrap_err(), "invalid token signature");
        // Lower-case and critical-extension headers are refused.
        let lower = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"alg":"hs256"}"#);
        let with_lower = format!("{}.{}.{}", lower, parts[1], parts[2]);
        assert_eq!(
            auth.verify(&with_lower).unwrap_err(),
            "token algorithm is not allowed"
        );
        let crit = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"alg":"HS256","crit":["exp"]}"#);
        let with_crit = format!("{}.{}.{}", crit, parts[1], parts[2]);
        assert!(auth.verify(&with_crit).is_err());
    }

    #[test]
    fn refuses_weak_or_mixed_configuration() {
        let short = JwtAuth::new(
            JwtSettings {
                algorithms: vec!["HS256".into()],
                key: b"short".to_vec(),
                audience: None,
                issuer: None,
                leeway: 0,
                require: vec![],
            },
            bearer_source(),
            None,
        );
        assert!(short.err().unwrap().contains("at least 32 bytes"));
        assert!(one_family(&["HS256".into(), "RS256".into()]).is_err());
        assert!(parse_algorithm("none").is_err());
        assert!(parse_algorithm("NoNe").is_err());
    }

    #[test]
    fn reads_credentials_from_header_cookie_and_query() {
        let source = CredentialSource {
            header: AUTHORIZATION,
            scheme: "Bearer".into(),
            cookie: Some("jwt".into()),
            query: Some("token".into()),
        };
        let mut headers = HeaderMap::new();
        assert_eq!(source.find(&headers, "token=q1"), Some("q1".into()));
        headers.insert(COOKIE, HeaderValue::from_static("a=1; jwt=c1"));
        assert_eq!(source.find(&headers, ""), Some("c1".into()));
        headers.insert(AUTHORIZATION, HeaderValue::from_static("bearer h1"));
        assert_eq!(source.find(&headers, ""), Some("h1".into()));
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Basic xyz"));
        assert_eq!(source.find(&headers, ""), Some("c1".into()));
    }

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
