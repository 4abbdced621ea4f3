//! The single Actix service: route in Rust, enforce limits, then hand over to Python.

use std::future::Future;
use std::sync::Arc;
use std::task::Poll;

use actix_web::http::header::{HeaderValue, ALLOW, UPGRADE};
use actix_web::http::{ConnectionType, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use tokio::sync::oneshot;

use super::gate::run_gate;
use super::reply::into_response;
use super::state::AppState;
use super::upgrade::serve_websocket;
use crate::bridge::job::Job;
use crate::bridge::parts::{RequestParts, DJANGO_FALLBACK};
use crate::http::body::read_input;
use crate::http::cors::CorsPolicy;
use crate::http::errors::json_error;
use crate::http::params::{bad_path, decode_params};
use crate::policy::preflight::{preflight_policy, Asked};
use crate::router::{Lookup, WEBSOCKET};
use crate::staticfiles::static_files::serve_static;

pub async fn dispatch(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    if CorsPolicy::is_preflight(req.method(), req.headers()) {
        if let Some(resp) = preflight(&req, &state) {
            return resp;
        }
    }
    if is_websocket_upgrade(&req) {
        if let Lookup::Found { target, params } = state.routes.lookup(WEBSOCKET, req.path()) {
            let (route_id, policy) = (target.route_id as i64, target.policy.clone());
            return serve_websocket(req, payload, state, route_id, policy, params).await;
        }
        if state.asgi_websockets {
            // No route of ours: the project's ASGI application (Channels) takes it.
            return serve_websocket(req, payload, state, DJANGO_FALLBACK, None, Vec::new()).await;
        }
    }
    let (route_id, blocking, params, policy) =
        match state.routes.lookup(req.method().as_str(), req.path()) {
            Lookup::Found { target, params } => {
                let Some(decoded) = decode_params(params) else {
                    return bad_path();
                };
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
                // Collected static files answer where Django would (API routes win).
                if let Some(resp) = serve_static(&state.statics, &req).await {
                    return resp;
                }
                (DJANGO_FALLBACK, true, Vec::new(), None)
            }
        };
    let (identity, python_gate) = match run_gate(&req, policy.as_deref()).await {
        Ok(pass) => pass,
        Err(refusal) => return refusal,
    };
    let mut reading = Box::pin(read_input(
        &req,
        payload,
        state.form_limits(),
        route_id != DJANGO_FALLBACK,
    ));
    // Most bodies are already buffered: only a body still on its way arms the timer.
    let first = std::future::poll_fn(|cx| Poll::Ready(reading.as_mut().poll(cx))).await;
    let outcome = match first {
        Poll::Ready(result) => Ok(result),
        Poll::Pending => actix_rt::time::timeout(state.body_timeout, reading).await,
    };
    let (body, form) = match outcome {
        Ok(Ok(input)) => input,
        Ok(Err(resp)) => return resp,
        Err(_) => {
            let mut resp = json_error(
                StatusCode::REQUEST_TIMEOUT,
                "The request body was not received in time",
            );
            resp.head_mut().set_connection_type(ConnectionType::Close);
            return resp;
        }
    };
    let parts = RequestParts {
        route_id,
        method: req.method().clone(),
        uri: req.uri().clone(),
        headers: req.headers().clone(),
        body,
        form,
        params,
        peer: req.peer_addr(),
        server: req.app_config().local_addr(),
        identity,
        python_gate,
        websocket: None,
    };
    let (tx, rx) = oneshot::channel();
    let job = Job::new(parts, tx, Arc::clone(&state.bridge.wake));
    let submitted = if blocking {
        state.bridge.submit_blocking(job)
    } else {
        state.bridge.submit_async(job)
    };
    if !submitted {
        return json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "The server is shutting down",
        );
    }
    let resp = match rx.await {
        Ok(reply) => into_response(reply, &req, policy.as_deref()),
        Err(_) => json_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
    };
    match policy.as_deref() {
        Some(policy) => {
            let mut resp = resp;
            policy.finish(req.headers(), resp.headers_mut());
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
