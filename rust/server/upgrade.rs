//! WebSocket handshakes to a route (or to the project's ASGI application): origin check,
//! connection limit and gate, then the handler's accept or close.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::gate::run_gate;
use super::limits::not_handed_over;
use super::reply::build_response;
use super::state::AppState;
use crate::bridge::parts::{Reply, RequestParts};
use crate::http::errors::json_error;
use crate::http::params::{bad_path, bad_query, decode_params};
use crate::policy::gate::PolicyCore;
use crate::policy::proxies::client_ip;
use crate::ws::channel::Shared as WsShared;
use crate::ws::handshake::{finish_handshake, Conn, NoSlot, Slot};

/// A WebSocket handshake for a route: authenticate, let the handler accept or close,
/// then hand the connection to the frame task.
pub async fn serve_websocket(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    route_id: i64,
    policy: Option<Arc<PolicyCore>>,
    params: Vec<(String, String)>,
) -> HttpResponse {
    if let Err(e) = actix_http::ws::handshake(req.head()) {
        return json_error(
            StatusCode::BAD_REQUEST,
            &format!("Invalid WebSocket handshake: {e}"),
        );
    }
    let Some(params) = decode_params(params) else {
        return bad_path();
    };
    if let Some(resp) = bad_query(req.query_string()) {
        return resp;
    }
    if let Some(check) = policy.as_deref().and_then(|p| p.ws_origins.as_ref()) {
        let origin = req.headers().get(header::ORIGIN);
        let text = origin.map(|o| o.to_str().unwrap_or("\u{fffd}"));
        if !check.allows(text) {
            return json_error(
                StatusCode::FORBIDDEN,
                &format!(
                    "Origin {} may not open this WebSocket",
                    text.unwrap_or_default()
                ),
            );
        }
    }
    let client = state.ws_clients.as_ref().and_then(|slots| {
        let peer = req.peer_addr().map(|a| a.ip());
        client_ip(peer, req.headers(), &state.trusted_proxies).map(|ip| (slots, ip))
    });
    let slot = match Slot::take(&state.ws_active, state.ws_max_connections, client) {
        Ok(slot) => slot,
        Err(why) => {
            let (status, detail) = match why {
                NoSlot::Server => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Too many WebSocket connections; try again later",
                ),
                NoSlot::Client => (
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many WebSocket connections from this address",
                ),
            };
            let mut resp = json_error(status, detail);
            resp.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
            return resp;
        }
    };
    let (identity, python_gate) = match run_gate(
        &req,
        policy.as_deref(),
        state.metrics.as_ref(),
        None,
        state.secure,
    )
    .await
    {
        Ok(pass) => pass,
        Err(refusal) => return refusal,
    };
    let (shared, outgoing) = WsShared::new(Arc::clone(&state.bridge.wake));
    let parts = RequestParts {
        identity,
        python_gate,
        websocket: Some(Arc::clone(&shared)),
        ..state.parts(&req, route_id, params)
    };
    let rx = match state.hand_over(parts, false) {
        Ok(rx) => rx,
        Err(why) => return not_handed_over(why, false),
    };
    let limits = state.ws;
    match rx.await {
        Ok(Reply::WebSocket(decision)) => {
            let conn = Conn {
                slot,
                shutdown: state.ws_shutdown.clone(),
                metrics: state.metrics.clone(),
            };
            finish_handshake(&req, payload, decision, shared, outgoing, limits, conn)
        }
        // The handler refused with an HTTP answer (an exception before accept()).
        Ok(reply) => build_response(reply, &req),
        Err(_) => json_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
    }
}
