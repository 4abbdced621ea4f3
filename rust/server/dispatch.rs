//! The single Actix service: route in Rust, enforce limits, then hand over to Python.

use std::sync::atomic::Ordering;
use std::time::Instant;

use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderValue, AGE, ALLOW, HOST, SET_COOKIE, UPGRADE};
use actix_web::http::uri::{PathAndQuery, Uri};
use actix_web::http::{ConnectionType, Method, StatusCode};
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, HttpResponse};

use super::django::to_django;
use super::gate::{run_gate, Forced};
use super::limits::{answer_within, check_head, not_handed_over, timed_out};
use super::reply::into_response;
use super::state::AppState;
use super::upgrade::serve_websocket;
use crate::bridge::parts::{Reply, RequestParts, DJANGO_FALLBACK};
use crate::http::body::{read_input, within};
use crate::http::cors::CorsPolicy;
use crate::http::errors::json_error;
use crate::http::params::{bad_path, bad_query, decode_params};
use crate::http::response_cache::{Cached, Owner, ResponseCache};
use crate::policy::gate::{CacheRule, PolicyCore};
use crate::policy::preflight::{preflight_policy, Asked};
use crate::router::{Lookup, WEBSOCKET};
use crate::staticfiles::static_files::serve_static;

/// The service every listener runs: under a root path (`--root-path`) the request's path
/// loses that prefix first, so routing, static files and Django's PATH_INFO all see the
/// path below it (a proxy that already stripped it changes nothing).
pub async fn entry(mut sreq: ServiceRequest) -> Result<ServiceResponse, actix_web::Error> {
    let state = sreq
        .app_data::<web::Data<AppState>>()
        .cloned()
        .expect("the app carries its state");
    if !state.root_path.is_empty() {
        strip_root(&mut sreq, &state.root_path);
    }
    if let Some(log) = &state.access_log {
        log.assign_id(&mut sreq);
    }
    let (req, mut payload) = sreq.into_parts();
    let payload = web::Payload::from_request(&req, &mut payload).into_inner()?;
    let resp = dispatch(req.clone(), payload, state).await;
    Ok(ServiceResponse::new(req, resp))
}

fn strip_root(sreq: &mut ServiceRequest, root: &str) {
    let rest = match sreq.path().strip_prefix(root) {
        Some("") => "/",
        Some(rest) if rest.starts_with('/') => rest,
        _ => return,
    };
    let target = match sreq.uri().query() {
        Some(q) => format!("{rest}?{q}"),
        None => rest.to_string(),
    };
    let mut parts = sreq.uri().clone().into_parts();
    let Ok(target) = PathAndQuery::try_from(target) else {
        return;
    };
    parts.path_and_query = Some(target);
    if let Ok(uri) = Uri::from_parts(parts) {
        sreq.match_info_mut().get_mut().update(&uri);
        sreq.head_mut().uri = uri;
    }
}

pub async fn dispatch(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    state.served.fetch_add(1, Ordering::Relaxed);
    let shared = state.clone();
    let timing = shared.metrics.as_ref().map(|m| {
        m.in_flight(1);
        (req.method().clone(), Instant::now())
    });
    let mut routed = Routed::Unrouted;
    let mut resp = match state.access_log.clone() {
        None => serve(req, payload, state, &mut routed).await,
        Some(log) => {
            let started = log.start(&req);
            let resp = serve(req.clone(), payload, state, &mut routed).await;
            log.finish(started, req, resp)
        }
    };
    if let (Some(metrics), Some((method, started))) = (&shared.metrics, timing) {
        metrics.in_flight(-1);
        let route = match routed {
            Routed::Route(id) => shared.routes.label(id),
            Routed::Static => "static",
            Routed::Django => "django",
            Routed::Unrouted => "unrouted",
        };
        metrics.request(
            method.as_str(),
            route,
            resp.status().as_u16(),
            started.elapsed(),
        );
    }
    // A stopping server tells keep-alive clients to come back on a new connection (which
    // another process accepts) instead of keeping this one busy until the deadline.
    if shared.draining.load(Ordering::Relaxed) && resp.status() != StatusCode::SWITCHING_PROTOCOLS {
        resp.head_mut().set_connection_type(ConnectionType::Close);
    }
    resp
}

/// Who answered a request, for the metrics' route label.
#[derive(Clone, Copy)]
enum Routed {
    /// Refused before routing, or no route for its method.
    Unrouted,
    Route(u32),
    Static,
    Django,
}

async fn serve(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    routed: &mut Routed,
) -> HttpResponse {
    if let Some(refusal) = check_head(&req, state.head_limits) {
        return refusal;
    }
    if CorsPolicy::is_preflight(req.method(), req.headers()) {
        if let Some(resp) = preflight(&req, &state) {
            return resp;
        }
    }
    if is_websocket_upgrade(&req) {
        if let Lookup::Found { target, params } = state.routes.lookup(WEBSOCKET, req.path()) {
            *routed = Routed::Route(target.route_id);
            let (route_id, policy) = (target.route_id as i64, target.policy.clone());
            return serve_websocket(req, payload, state, route_id, policy, params).await;
        }
        if state.asgi_websockets {
            // No route of ours: the project's ASGI application (Channels) takes it.
            *routed = Routed::Django;
            return serve_websocket(req, payload, state, DJANGO_FALLBACK, None, Vec::new()).await;
        }
        // Nothing here takes a WebSocket: refuse at once (a handshake left to Django's
        // HTTP handler would keep the client waiting for an upgrade that never comes).
        crate::logs::log(
            "django_bolt.server",
            crate::logs::WARNING,
            format!(
                "WebSocket handshake refused (404): no WebSocket route at {}",
                req.path()
            ),
        );
        let mut resp = json_error(StatusCode::NOT_FOUND, "No WebSocket route at this path");
        resp.head_mut().set_connection_type(ConnectionType::Close);
        return resp;
    }
    let (route_id, blocking, params, policy) =
        match state.routes.lookup(req.method().as_str(), req.path()) {
            Lookup::Found { target, params } => {
                *routed = Routed::Route(target.route_id);
                let Some(decoded) = decode_params(params) else {
                    return bad_path();
                };
                if let Some(resp) = bad_query(req.query_string()) {
                    return resp;
                }
                (
                    target.route_id as i64,
                    target.blocking,
                    decoded,
                    target.policy.clone(),
                )
            }
            Lookup::MethodNotAllowed { allow } => {
                let mut resp = json_error(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
                if let Ok(v) = HeaderValue::from_str(allow) {
                    resp.headers_mut().insert(ALLOW, v);
                }
                return resp;
            }
            Lookup::NotFound => {
                let ws = state.routes.lookup(WEBSOCKET, req.path());
                if matches!(ws, Lookup::Found { ref params, .. } if params.is_empty()) {
                    // A WebSocket route's own path (no parameters, so no Django view or
                    // file behind it is hidden) asked without the upgrade.
                    let mut resp = json_error(
                        StatusCode::UPGRADE_REQUIRED,
                        "This path takes WebSocket connections",
                    );
                    resp.headers_mut()
                        .insert(UPGRADE, HeaderValue::from_static("websocket"));
                    return resp;
                }
                // Collected static files answer where Django would (API routes win).
                if let Some(resp) = serve_static(&state.statics, &req).await {
                    *routed = Routed::Static;
                    return resp;
                }
                *routed = Routed::Django;
                return to_django(req, payload, state).await;
            }
        };
    let forced = match state.testing {
        true => req.extensions().get::<Forced>().map(|f| f.0.clone()),
        false => None,
    };
    let gated = run_gate(
        &req,
        policy.as_deref(),
        state.metrics.as_ref(),
        forced.as_ref(),
        state.secure,
    );
    let (identity, python_gate) = match gated.await {
        Ok(pass) => pass,
        Err(refusal) => return refusal,
    };
    let cache = policy.as_deref().and_then(|p| p.cache.as_ref());
    let owner = cache
        .and_then(|rule| rule.owner(req.method(), req.headers(), identity.as_ref(), python_gate));
    let target = owner.as_ref().map(|_| cache_target(&req));
    if let (Some(owner), Some(target)) = (&owner, &target) {
        let hit = state
            .response_cache
            .get(route_id as u32, target, owner, req.headers());
        if let Some(hit) = hit {
            return finish(
                &req,
                policy.as_deref(),
                state.secure,
                cached(&hit, &req, policy.as_deref()),
            );
        }
    }
    let (owned, limits) = (req.clone(), state.form_limits());
    let input = async move { read_input(&owned, payload, limits).await };
    let (body, form) = match within(input, state.body_timeout).await {
        Ok(input) => input,
        Err(e) => return e.response(false),
    };
    let parts = RequestParts {
        body,
        form,
        identity,
        python_gate,
        ..state.parts(&req, route_id, params)
    };
    let rx = match state.hand_over(parts, blocking) {
        Ok(rx) => rx,
        Err(why) => {
            return finish(
                &req,
                policy.as_deref(),
                state.secure,
                not_handed_over(why, false),
            )
        }
    };
    let resp = match answer_within(rx, state.handler_timeout).await {
        Some(Ok(mut reply)) => {
            let kept = match (cache, owner, target) {
                (Some(rule), Some(owner), Some(target)) => Some((rule, owner, target)),
                _ => None,
            };
            keep(&state, &req, route_id as u32, kept, &mut reply);
            into_response(reply, &req, policy.as_deref())
        }
        Some(Err(_)) => json_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
        None => timed_out(state.handler_timeout, false),
    };
    finish(&req, policy.as_deref(), state.secure, resp)
}

/// A kept answer of a `cache_page` route, with its `Age`.
fn cached(hit: &Cached, req: &HttpRequest, policy: Option<&PolicyCore>) -> HttpResponse {
    let reply = Reply::Full {
        status: hit.status,
        headers: hit.headers.clone(),
        body: hit.body.clone(),
    };
    let mut resp = into_response(reply, req, policy);
    resp.headers_mut().insert(AGE, hit.age(Instant::now()));
    resp
}

/// Where a `cache_page` answer is kept: host, path and query.
fn cache_target(req: &HttpRequest) -> String {
    let host = req.headers().get(HOST).map_or(&b""[..], |h| h.as_bytes());
    let pq = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
    format!("{}{pq}", String::from_utf8_lossy(host))
}

/// Takes Python's cache marker out of an answer (it never reaches the client) and keeps
/// the answer when the route caches and the final answer qualifies: a GET, status 200,
/// no cookie set unless the route allows it.
fn keep(
    state: &AppState,
    req: &HttpRequest,
    route: u32,
    cache: Option<(&CacheRule, Owner, String)>,
    reply: &mut Reply,
) {
    let Reply::Full {
        status,
        headers,
        body,
    } = reply
    else {
        return;
    };
    let Some(ttl) = ResponseCache::take_marker(headers) else {
        return;
    };
    let Some((rule, owner, target)) = cache else {
        return;
    };
    let sets_cookie = headers.iter().any(|(k, _)| k == SET_COOKIE);
    if req.method() != Method::GET || *status != 200 || (sets_cookie && !rule.cookies) {
        return;
    }
    let (status, headers, body) = (*status, headers.clone(), body.clone());
    state.response_cache.put(
        route,
        &target,
        owner,
        req.headers(),
        status,
        headers,
        body,
        ttl,
    );
}

/// The route policy's last word on an answer (CORS and security headers).
fn finish(
    req: &HttpRequest,
    policy: Option<&PolicyCore>,
    secure: bool,
    resp: HttpResponse,
) -> HttpResponse {
    match policy {
        Some(policy) => {
            let mut resp = resp;
            policy.finish(req.headers(), secure, resp.headers_mut());
            resp
        }
        None => resp,
    }
}

fn is_websocket_upgrade(req: &HttpRequest) -> bool {
    req.headers()
        .get(UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// Answers a CORS preflight from the policy of the route the real request would reach.
fn preflight(req: &HttpRequest, state: &AppState) -> Option<HttpResponse> {
    let requested = req
        .headers()
        .get("access-control-request-method")?
        .to_str()
        .ok()?
        .trim();
    let routes = &state.routes;
    let (asked, allow) = match routes.lookup(requested, req.path()) {
        Lookup::Found { target, .. } => (Asked::Route(target.policy.as_deref()), ""),
        Lookup::MethodNotAllowed { allow } => (Asked::OtherMethods, allow),
        Lookup::NotFound => (Asked::NoRoute, ""),
    };
    let others = allow
        .split(", ")
        .map(|method| match routes.lookup(method, req.path()) {
            Lookup::Found { target, .. } => target.policy.as_deref(),
            _ => None,
        });
    preflight_policy(asked, others, |p| p.cors.is_some())?.preflight(req.method(), req.headers())
}
