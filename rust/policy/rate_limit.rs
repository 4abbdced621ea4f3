//! Per-route rate limits: a token bucket per client key, in the route's store.

use std::net::IpAddr;

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use actix_web::http::StatusCode;
use actix_web::HttpResponse;

use super::proxies::{client_ip, Net};
use crate::auth::identity::Identity;
use crate::http::errors::static_error;
use crate::store::backend::Store;
use crate::store::local::Decision;

/// What a client is counted by.
pub enum RateKey {
    Ip,
    User,
    ApiKey,
    Header(HeaderName),
}

pub struct RateLimit {
    pub rate: f64,
    pub burst: f64,
    pub key: RateKey,
    pub scope: String,
    pub store: Store,
}

impl RateLimit {
    /// True when the bucket is chosen by who authenticated, so the limit runs after
    /// authentication.
    pub fn keyed_by_identity(&self) -> bool {
        matches!(self.key, RateKey::User | RateKey::ApiKey)
    }

    fn bucket(
        &self,
        headers: &HeaderMap,
        peer: Option<IpAddr>,
        identity: Option<&Identity>,
        trusted: &[Net],
    ) -> String {
        let ip = || {
            client_ip(peer, headers, trusted)
                .map(|ip| format!("ip:{ip}"))
                .unwrap_or_else(|| "ip:unknown".into())
        };
        let key = match &self.key {
            RateKey::Ip => ip(),
            RateKey::User => identity
                .and_then(|i| {
                    i.user_id
                        .as_ref()
                        .map(|u| format!("user:{u}"))
                        .or_else(|| i.key_name.as_ref().map(|k| format!("key:{k}")))
                })
                .unwrap_or_else(ip),
            RateKey::ApiKey => identity
                .and_then(|i| i.key_name.as_ref().map(|k| format!("key:{k}")))
                .unwrap_or_else(ip),
            RateKey::Header(name) => headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| format!("h:{v}"))
                .unwrap_or_else(ip),
        };
        format!("{}:{key}", self.scope)
    }

    /// Takes a token for this request's client: None when allowed, else the 429.
    pub async fn check(
        &self,
        headers: &HeaderMap,
        peer: Option<IpAddr>,
        identity: Option<&Identity>,
        trusted: &[Net],
    ) -> Option<HttpResponse> {
        let key = self.bucket(headers, peer, identity, trusted);
        match self.store.take(&key, self.rate, self.burst).await {
            Ok(Decision::Allowed) => None,
            Ok(Decision::Limited(wait)) => {
                let mut resp = static_error(
                    StatusCode::TOO_MANY_REQUESTS,
                    b"{\"detail\":\"Rate limit exceeded\"}",
                );
                let secs = wait.ceil().max(1.0) as u64;
                resp.headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from(secs));
                Some(resp)
            }
            Err(e) => {
                // The limiter's store is unreachable: serve rather than fail every request.
                e.log();
                None
            }
        }
    }
}
