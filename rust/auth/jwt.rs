//! JWT verification (HMAC, RSA, ECDSA, EdDSA). HS* and ES512 tokens are checked here
//! directly; the others through `jsonwebtoken`.

use std::collections::HashSet;

use actix_web::http::header::HeaderMap;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use super::algorithms::{one_family, Alg, Family, MIN_HS_SECRET};
use super::errors::{AuthError, Rejection};
use super::identity::{identity_from_claims, Outcome};
use super::source::CredentialSource;
use crate::store::backend::Revocation;

/// Tokens longer than this are refused before any decoding work.
pub const MAX_TOKEN_BYTES: usize = 8192;

pub struct JwtAuth {
    pub source: CredentialSource,
    key: DecodingKey,
    validation: Validation,
    /// HMAC keys, already keyed (cloning one skips hashing the key per request).
    hmac: Option<HmacKeys>,
    /// The public key for ES512, which `jsonwebtoken` does not implement.
    p521: Option<p521::ecdsa::VerifyingKey>,
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

fn b64url(part: &str) -> Result<Vec<u8>, Rejection> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| Rejection::Malformed)
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn numeric(claims: &Map<String, Value>, name: &str) -> Result<Option<f64>, Rejection> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_f64()
            .map(Some)
            .ok_or_else(|| Rejection::MalformedClaim(name.to_owned())),
        Some(_) => Err(Rejection::MalformedClaim(name.to_owned())),
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

pub struct JwtSettings {
    pub algorithms: Vec<String>,
    pub key: Vec<u8>,
    pub audience: Option<Vec<String>>,
    pub issuer: Option<Vec<String>>,
    pub leeway: u64,
    pub require: Vec<String>,
}

impl JwtAuth {
    pub fn new(
        settings: JwtSettings,
        source: CredentialSource,
        revocation: Option<Revocation>,
    ) -> Result<Self, AuthError> {
        let (algs, fam) = one_family(&settings.algorithms)?;
        let invalid = |kind| move |error| AuthError::InvalidKey { kind, error };
        let mut p521 = None;
        let key = match fam {
            Family::Hmac => {
                if settings.key.len() < MIN_HS_SECRET {
                    return Err(AuthError::ShortSecret {
                        len: settings.key.len(),
                        min: MIN_HS_SECRET,
                    });
                }
                if settings.key.starts_with(b"-----BEGIN") {
                    return Err(AuthError::PemForHmac);
                }
                DecodingKey::from_secret(&settings.key)
            }
            Family::Rsa => {
                DecodingKey::from_rsa_pem(&settings.key).map_err(invalid("RSA public"))?
            }
            Family::Ec => DecodingKey::from_ec_pem(&settings.key).map_err(invalid("EC public"))?,
            Family::Ed => {
                DecodingKey::from_ed_pem(&settings.key).map_err(invalid("Ed25519 public"))?
            }
            Family::P521 => {
                p521 = Some(p521_public_key(&settings.key)?);
                // Never used: ES512 tokens are verified by `verify_es512`.
                DecodingKey::from_secret(&[])
            }
        };
        // For ES512, `validation` carries only the registered-claim settings `validate`
        // reads; its algorithm list stays empty.
        let standard: Vec<Algorithm> = algs.iter().filter_map(|a| a.standard()).collect();
        let mut validation = Validation::new(standard.first().copied().unwrap_or_default());
        validation.algorithms = standard;
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
        debug_assert!(p521.is_none() || algs.iter().all(|a| *a == Alg::Es512));
        Ok(Self {
            source,
            key,
            validation,
            hmac,
            p521,
            revocation,
        })
    }

    pub fn verify(&self, token: &str) -> Result<Map<String, Value>, Rejection> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(Rejection::TooLarge);
        }
        if token.bytes().filter(|b| *b == b'.').count() != 2 {
            return Err(Rejection::Malformed);
        }
        if let Some(keys) = &self.hmac {
            return self.verify_hmac(keys, token);
        }
        if let Some(key) = &self.p521 {
            return self.verify_es512(key, token);
        }
        jsonwebtoken::decode::<Map<String, Value>>(token, &self.key, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| describe(e.kind()))
    }

    /// Checks the header, then the signature with `signature_ok(alg, input, signature)`,
    /// then the claims.
    fn verify_with(
        &self,
        token: &str,
        signature_ok: impl FnOnce(&str, &[u8], &[u8]) -> Result<(), Rejection>,
    ) -> Result<Map<String, Value>, Rejection> {
        let (input, sig) = token.rsplit_once('.').ok_or(Rejection::Malformed)?;
        let (header, payload) = input.split_once('.').ok_or(Rejection::Malformed)?;
        let header: JoseHeader =
            serde_json::from_slice(&b64url(header)?).map_err(|_| Rejection::Malformed)?;
        if header.crit.is_some() {
            return Err(Rejection::CriticalHeader);
        }
        signature_ok(&header.alg, input.as_bytes(), &b64url(sig)?)?;
        let claims: Map<String, Value> =
            serde_json::from_slice(&b64url(payload)?).map_err(|_| Rejection::Malformed)?;
        self.validate(&claims)?;
        Ok(claims)
    }

    fn verify_hmac(&self, keys: &HmacKeys, token: &str) -> Result<Map<String, Value>, Rejection> {
        self.verify_with(token, |alg, input, sig| {
            // Exact names only: "none", "hs256" or an RSA algorithm are not allowed here.
            let alg = match alg {
                "HS256" => Algorithm::HS256,
                "HS384" => Algorithm::HS384,
                "HS512" => Algorithm::HS512,
                _ => return Err(Rejection::AlgorithmNotAllowed),
            };
            if !keys.allowed.contains(&alg) {
                return Err(Rejection::AlgorithmNotAllowed);
            }
            if !keys.verify_signature(alg, input, sig) {
                return Err(Rejection::BadSignature);
            }
            Ok(())
        })
    }

    fn verify_es512(
        &self,
        key: &p521::ecdsa::VerifyingKey,
        token: &str,
    ) -> Result<Map<String, Value>, Rejection> {
        use p521::ecdsa::signature::Verifier;
        self.verify_with(token, |alg, input, sig| {
            if alg != "ES512" {
                return Err(Rejection::AlgorithmNotAllowed);
            }
            // JWS carries r || s (66 bytes each), not DER.
            let sig =
                p521::ecdsa::Signature::from_slice(sig).map_err(|_| Rejection::BadSignature)?;
            key.verify(input, &sig).map_err(|_| Rejection::BadSignature)
        })
    }

    /// The registered-claim checks of RFC 7519 (exp, nbf, aud, iss) as configured.
    fn validate(&self, claims: &Map<String, Value>) -> Result<(), Rejection> {
        let v = &self.validation;
        for name in &v.required_spec_claims {
            if !claims.contains_key(name.as_str()) {
                return Err(Rejection::MissingClaim(name.clone()));
            }
        }
        let now = now_secs() as f64;
        let leeway = v.leeway as f64;
        if let Some(exp) = numeric(claims, "exp")? {
            if exp < now - leeway {
                return Err(Rejection::Expired);
            }
        }
        if let Some(nbf) = numeric(claims, "nbf")? {
            if nbf > now + leeway {
                return Err(Rejection::NotYetValid);
            }
        }
        if let Some(allowed) = &v.iss {
            let ok = matches!(claims.get("iss"), Some(Value::String(s)) if allowed.contains(s));
            if !ok {
                return Err(Rejection::IssuerNotAccepted);
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
                return Err(Rejection::AudienceNotAccepted);
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

/// A P-521 public key from PEM (`BEGIN PUBLIC KEY`).
fn p521_public_key(pem: &[u8]) -> Result<p521::ecdsa::VerifyingKey, AuthError> {
    use p521::pkcs8::DecodePublicKey;
    let invalid = || AuthError::InvalidPem {
        kind: "P-521 public",
    };
    let text = std::str::from_utf8(pem).map_err(|_| invalid())?;
    let public = p521::PublicKey::from_public_key_pem(text).map_err(|_| invalid())?;
    p521::ecdsa::VerifyingKey::from_affine(*public.as_affine()).map_err(|_| invalid())
}

fn describe(kind: &jsonwebtoken::errors::ErrorKind) -> Rejection {
    use jsonwebtoken::errors::ErrorKind as K;
    match kind {
        K::ExpiredSignature => Rejection::Expired,
        K::ImmatureSignature => Rejection::NotYetValid,
        K::InvalidAudience => Rejection::AudienceNotAccepted,
        K::InvalidIssuer => Rejection::IssuerNotAccepted,
        K::InvalidSignature => Rejection::BadSignature,
        K::InvalidAlgorithm | K::InvalidAlgorithmName | K::UnsupportedAlgorithm => {
            Rejection::AlgorithmNotAllowed
        }
        K::MissingRequiredClaim(c) => Rejection::MissingClaim(c.clone()),
        K::InvalidClaimFormat(c) => Rejection::MalformedClaim(c.clone()),
        _ => Rejection::Malformed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::sign::encode;
    use actix_web::http::header::AUTHORIZATION;
    use serde_json::json;

    fn bearer_source() -> CredentialSource {
        CredentialSource {
            header: AUTHORIZATION,
            scheme: "Bearer".into(),
            cookie: None,
            query: None,
        }
    }

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn now() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    }

    fn hs(algs: &[&str]) -> JwtAuth {
        keyed(algs, SECRET)
    }

    fn keyed(algs: &[&str], key: &[u8]) -> JwtAuth {
        JwtAuth::new(
            JwtSettings {
                algorithms: algs.iter().map(|s| s.to_string()).collect(),
                key: key.to_vec(),
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
        assert_eq!(
            auth.verify(&expired).unwrap_err().to_string(),
            "token has expired"
        );
        let early = token(
            json!({"sub": "1", "exp": now() + 60, "nbf": now() + 30}),
            "HS256",
        );
        assert_eq!(
            auth.verify(&early).unwrap_err().to_string(),
            "token is not valid yet"
        );
        let no_exp = token(json!({"sub": "1"}), "HS256");
        assert!(auth
            .verify(&no_exp)
            .unwrap_err()
            .to_string()
            .contains("exp"));
    }

    #[test]
    fn rejects_other_algorithms_and_none() {
        let auth = hs(&["HS256"]);
        let t = token(json!({"sub": "1", "exp": now() + 60}), "HS512");
        assert_eq!(
            auth.verify(&t).unwrap_err().to_string(),
            "token algorithm is not allowed"
        );
        // {"alg":"none","typ":"JWT"} . {"sub":"1","exp":9999999999} . (empty)
        let none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiIxIiwiZXhwIjo5OTk5OTk5OTk5fQ.";
        assert!(auth.verify(none).is_err());
        assert_eq!(
            auth.verify("a.b").unwrap_err().to_string(),
            "malformed token"
        );
        assert_eq!(
            auth.verify("a.b.c.d").unwrap_err().to_string(),
            "malformed token"
        );
        assert_eq!(
            auth.verify("!!.@@.##").unwrap_err().to_string(),
            "malformed token"
        );
        assert_eq!(
            auth.verify(&"a".repeat(MAX_TOKEN_BYTES + 1))
                .unwrap_err()
                .to_string(),
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
            auth.verify(&token(late, "HS256")).unwrap_err().to_string(),
            "token has expired"
        );
        let aud = json!({"sub": "1", "exp": now() + 60, "aud": "other", "iss": "me"});
        assert_eq!(
            auth.verify(&token(aud, "HS256")).unwrap_err().to_string(),
            "token audience is not accepted"
        );
        let no_aud = json!({"sub": "1", "exp": now() + 60, "iss": "me"});
        assert!(auth
            .verify(&token(no_aud, "HS256"))
            .unwrap_err()
            .to_string()
            .contains("aud"));
        let iss = json!({"sub": "1", "exp": now() + 60, "aud": "api", "iss": "you"});
        assert_eq!(
            auth.verify(&token(iss, "HS256")).unwrap_err().to_string(),
            "token issuer is not accepted"
        );
        let bad_exp = json!({"sub": "1", "exp": "soon", "aud": "api", "iss": "me"});
        assert!(auth
            .verify(&token(bad_exp, "HS256"))
            .unwrap_err()
            .to_string()
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
        assert_eq!(
            auth.verify(&forged).unwrap_err().to_string(),
            "invalid token signature"
        );
        // Lower-case and critical-extension headers are refused.
        let lower = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"alg":"hs256"}"#);
        let with_lower = format!("{}.{}.{}", lower, parts[1], parts[2]);
        assert_eq!(
            auth.verify(&with_lower).unwrap_err().to_string(),
            "token algorithm is not allowed"
        );
        let crit = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"alg":"HS256","crit":["exp"]}"#);
        let with_crit = format!("{}.{}.{}", crit, parts[1], parts[2]);
        assert!(auth.verify(&with_crit).is_err());
    }

    #[test]
    fn es512_signs_and_verifies_with_p521_keys() {
        use p521::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
        let secret = p521::SecretKey::random(&mut p521::elliptic_curve::rand_core::OsRng);
        let private = secret.to_pkcs8_pem(LineEnding::LF).unwrap();
        let public = secret
            .public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        let auth = keyed(&["ES512"], public.as_bytes());
        let claims = json!({"sub": "7", "exp": now() + 60});
        let Value::Object(map) = claims else {
            unreachable!()
        };
        let token = encode(&map, "ES512", private.as_bytes()).unwrap();
        assert_eq!(auth.verify(&token).unwrap()["sub"], "7");
        let (input, sig) = token.rsplit_once('.').unwrap();
        let flipped = if sig.starts_with('A') { "B" } else { "A" };
        let forged = format!("{input}.{flipped}{}", &sig[1..]);
        assert_eq!(auth.verify(&forged), Err(Rejection::BadSignature));
        let hs = encode(&map, "HS256", SECRET).unwrap();
        assert_eq!(auth.verify(&hs), Err(Rejection::AlgorithmNotAllowed));
        let mut expired = map.clone();
        expired.insert("exp".into(), json!(now() - 60));
        let old = encode(&expired, "ES512", private.as_bytes()).unwrap();
        assert_eq!(auth.verify(&old), Err(Rejection::Expired));
        assert!(encode(&map, "ES512", b"not a key").is_err());
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
        assert!(short
            .err()
            .unwrap()
            .to_string()
            .contains("at least 32 bytes"));
    }
}
