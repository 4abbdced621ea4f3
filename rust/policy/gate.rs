//! The per-route gate, run in Rust before any Python: CORS preflight, rate limiting,
//! authentication and guards. Rejections (401, 403, 429, preflight) never reach Python.

use std::net::IpAddr;

use actix_web::http::header::{HeaderMap, HeaderValue, AUTHORIZATION, ORIGIN, WWW_AUTHENTICATE};
use actix_web::http::{Method, StatusCode};
use actix_web::HttpResponse;
use serde_json::Value;

use super::guards::{decide, Decision, Guard};
use super::proxies::Net;
use super::rate_limit::RateLimit;
use crate::auth::api_key::ApiKeyAuth;
use crate::auth::errors::Rejection;
use crate::auth::identity::{Identity, Outcome};
use crate::auth::jwt::JwtAuth;
use crate::http::compress::CompressionPolicy;
use crate::http::cors::CorsPolicy;
use crate::http::errors::{json_error, static_error};
use crate::http::origins::OriginCheck;
use crate::http::response_cache::Owner;
use crate::http::security::SecurityHeaders;
use crate::store::backend::{Revocation, Store};

pub enum Authenticator {
    Jwt(Box<JwtAuth>),
    ApiKey(ApiKeyAuth),
    /// A Python backend (sessions, custom `BaseAuth`): runs in Python when Rust found no
    /// identity.
    Python,
}

pub struct PolicyCore {
    pub(super) auth: Vec<Authenticator>,
    pub(super) guards: Vec<Guard>,
    pub cors: Option<CorsPolicy>,
    pub(super) rate_limit: Option<RateLimit>,
    pub compression: Option<CompressionPolicy>,
    /// WebSocket routes: which origins may open a connection.
    pub ws_origins: Option<OriginCheck>,
    /// The headers Django's security middleware would add (None: the route opted out).
    pub(super) security: Option<SecurityHeaders>,
    pub(super) trusted_proxies: Vec<Net>,
    pub(crate) challenge: HeaderValue,
    /// `cache_page`: GET answers kept and served again without Python.
    pub cache: Option<CacheRule>,
}

/// Which requests of a `cache_page` route may be answered from (and fill) the cache.
pub struct CacheRule {
    /// Authenticated requests too, each credential with its own answers.
    pub per_user: bool,
    /// Answers that set cookies may be kept (and replayed).
    pub cookies: bool,
}

impl CacheRule {
    /// Whose cached answers this request may see: `Some(None)` for the shared ones,
    /// `Some(Some(who))` for one credential's, None when it bypasses the cache (not a GET
    /// or HEAD, authenticated without `per_user`, or authenticated in Python, where Rust
    /// cannot tell who it is).
    pub fn owner(
        &self,
        method: &Method,
        headers: &HeaderMap,
        identity: Option<&Identity>,
        python: bool,
    ) -> Option<Owner> {
        if (*method != Method::GET && *method != Method::HEAD) || python {
            return None;
        }
        match identity {
            Some(id) if self.per_user => {
                let who = id.user_id.as_deref().or(id.key_name.as_deref())?;
                Some(Some(format!("{}:{who}", id.backend)))
            }
            Some(_) => None,
            None if headers.contains_key(AUTHORIZATION) => None,
            None => Some(None),
        }
    }
}

/// What the gate decided for one request.
pub enum Gate {
    Pass {
        identity: Option<Identity>,
        /// Python authentication or guards still have to run.
        python: bool,
    },
    Reject(HttpResponse),
}

pub struct RequestView<'a> {
    pub method: &'a Method,
    pub headers: &'a HeaderMap,
    pub query: &'a str,
    pub peer: Option<IpAddr>,
    /// An identity the test client forces (`force_authenticate`): authentication is
    /// skipped; rate limits and guards still apply. Never set by the real server.
    pub forced: Option<&'a Identity>,
}

fn capitalize(reason: &str) -> String {
    let mut chars = reason.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

impl PolicyCore {
    pub fn has_auth(&self) -> bool {
        !self.auth.is_empty() || !self.guards.is_empty()
    }

    pub fn needs_gate(&self) -> bool {
        self.has_auth() || self.rate_limit.is_some()
    }

    /// True when the gate never waits (no Redis): it can run to completion inline.
    pub fn gate_is_immediate(&self) -> bool {
        let redis_limit = matches!(
            self.rate_limit.as_ref().map(|r| &r.store),
            Some(Store::Redis(_))
        );
        let redis_revocation = self.auth.iter().any(|a| {
            matches!(a, Authenticator::Jwt(j) if matches!(j.revocation, Some(Revocation::Store(Store::Redis(_)))))
        });
        !redis_limit && !redis_revocation
    }

    fn unauthorized(&self, reason: Option<&Rejection>) -> HttpResponse {
        let reason = reason.map(Rejection::to_string);
        let reason = reason.as_deref();
        let mut resp = match reason {
            Some(r) => json_error(StatusCode::UNAUTHORIZED, &capitalize(r)),
            None => static_error(
                StatusCode::UNAUTHORIZED,
                b"{\"detail\":\"Authentication credentials were not provided\"}",
            ),
        };
        let mut challenge = self.challenge.clone();
        if let Some(r) = reason {
            let escaped = r.replace(['"', '\\'], "'");
            let with_error = format!(
                "{}, error=\"invalid_token\", error_description=\"{escaped}\"",
                self.challenge.to_str().unwrap_or("Bearer")
            );
            if let Ok(v) = HeaderValue::from_str(&with_error) {
                challenge = v;
            }
        }
        resp.headers_mut().insert(WWW_AUTHENTICATE, challenge);
        resp
    }

    async fn limit(
        &self,
        req: &RequestView<'_>,
        identity: Option<&Identity>,
    ) -> Option<HttpResponse> {
        let rl = self.rate_limit.as_ref()?;
        rl.check(req.headers, req.peer, identity, &self.trusted_proxies)
            .await
    }

    /// Runs rate limiting, authentication and guards.
    pub async fn gate(&self, req: &RequestView<'_>) -> Gate {
        let keyed_by_identity = self
            .rate_limit
            .as_ref()
            .is_some_and(RateLimit::keyed_by_identity);
        if !keyed_by_identity {
            if let Some(resp) = self.limit(req, None).await {
                return Gate::Reject(resp);
            }
        }
        let mut identity: Option<Identity> = req.forced.cloned();
        let mut failure: Option<Rejection> = None;
        let mut python_auth = false;
        let authenticators: &[Authenticator] = match identity {
            Some(_) => &[],
            None => &self.auth,
        };
        for auth in authenticators {
            let outcome = match auth {
                Authenticator::Jwt(jwt) => match jwt.authenticate(req.headers, req.query) {
                    Outcome::Valid(id) => match &jwt.revocation {
                        Some(Revocation::Store(store)) => match check_revoked(store, &id).await {
                            Ok(()) => Outcome::Valid(id),
                            Err(reason) => Outcome::Invalid(reason),
                        },
                        Some(Revocation::Python) => {
                            python_auth = true;
                            Outcome::Valid(id)
                        }
                        None => Outcome::Valid(id),
                    },
                    other => other,
                },
                Authenticator::ApiKey(key) => key.authenticate(req.headers, req.query),
                Authenticator::Python => {
                    python_auth = true;
                    continue;
                }
            };
            match outcome {
                Outcome::Valid(id) => {
                    identity = Some(id);
                    break;
                }
                Outcome::Invalid(reason) => {
                    failure.get_or_insert(reason);
                }
                Outcome::Absent => {}
            }
        }
        // An identity from Rust settles authentication unless its revocation is checked in
        // Python; without one, Python backends may still authenticate.
        let python_pending = match &identity {
            Some(_) => python_auth && self.has_python_revocation(),
            None => python_auth,
        };
        if keyed_by_identity {
            if let Some(resp) = self.limit(req, identity.as_ref()).await {
                return Gate::Reject(resp);
            }
        }
        if identity.is_none() && python_pending {
            // Python backends decide who this is; guards run there too.
            return Gate::Pass {
                identity: None,
                python: true,
            };
        }
        let mut python_guards = false;
        for guard in &self.guards {
            if let Guard::Python = guard {
                python_guards = true;
                continue;
            }
            if let Guard::AllowAny = guard {
                continue;
            }
            let Some(id) = identity.as_ref() else {
                return Gate::Reject(self.unauthorized(failure.as_ref()));
            };
            match decide(guard, id) {
                Decision::Allow => {}
                Decision::Deny(detail) => {
                    return Gate::Reject(json_error(StatusCode::FORBIDDEN, &detail));
                }
                Decision::Python => python_guards = true,
            }
        }
        Gate::Pass {
            identity,
            python: python_guards || python_pending,
        }
    }

    fn has_python_revocation(&self) -> bool {
        self.auth.iter().any(|a| {
            matches!(a, Authenticator::Jwt(j) if matches!(j.revocation, Some(Revocation::Python)))
        })
    }

    /// A preflight answer when this policy has CORS and the request is a preflight.
    pub fn preflight(&self, method: &Method, headers: &HeaderMap) -> Option<HttpResponse> {
        let cors = self.cors.as_ref()?;
        CorsPolicy::is_preflight(method, headers).then(|| cors.preflight(headers))
    }

    /// Adds CORS response headers for the request's Origin, and the security headers
    /// (`tls`: the request came over runbolt's own TLS).
    pub fn finish(&self, request: &HeaderMap, tls: bool, response: &mut HeaderMap) {
        if let Some(cors) = &self.cors {
            cors.apply(request.get(ORIGIN), response);
        }
        if let Some(security) = &self.security {
            security.apply(request, tls, response);
        }
    }
}

async fn check_revoked(store: &Store, id: &Identity) -> Result<(), Rejection> {
    let jti = id
        .claims
        .as_ref()
        .and_then(|c| c.get("jti"))
        .and_then(Value::as_str);
    let Some(jti) = jti else {
        return Err(Rejection::NoJti);
    };
    match store.is_revoked(jti).await {
        Ok(false) => Ok(()),
        Ok(true) => Err(Rejection::Revoked),
        Err(e) => {
            e.log();
            Err(Rejection::RevocationUnchecked)
        }
    }
}
