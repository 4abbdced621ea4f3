//! Requests for Django's own paths (admin, sessions, any Django view): their own body
//! limit, the body streamed into `wsgi.input` as Django reads it, and refusals in the
//! client's language (an HTML page for a browser).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use tokio::sync::mpsc;

use super::limits::{answer_within, not_handed_over, timed_out};
use super::reply::into_response;
use super::state::AppState;
use crate::bridge::input::{InputState, INPUT_CHUNKS};
use crate::bridge::parts::DJANGO_FALLBACK;
use crate::http::body::{forward, read_for_django, within, Arrival};
use crate::http::errors::{accepts_html, error_for};

/// Bodies up to this size arrive whole before Django sees the request (no Python thread
/// waits for a slow client); larger ones are handed on after this much, the rest
/// streamed as Django reads.
pub const DJANGO_BODY_HEAD: usize = 1024 * 1024;

pub async fn to_django(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let html = accepts_html(req.headers());
    let (owned, limit) = (req.clone(), state.django_max_body_size);
    let reading = async move { read_for_django(&owned, payload, limit, DJANGO_BODY_HEAD).await };
    let arrival = match within(reading, state.body_timeout).await {
        Ok(arrival) => arrival,
        Err(e) => return e.response(html),
    };
    let mut parts = state.parts(&req, DJANGO_FALLBACK, Vec::new());
    let rest = match arrival {
        Arrival::Whole(body) => {
            parts.body = body;
            None
        }
        Arrival::Head {
            head,
            rest,
            remaining,
        } => {
            let (tx, rx) = mpsc::channel(INPUT_CHUNKS);
            parts.input = Some(InputState::new(head.clone(), rx, remaining));
            parts.body = head;
            Some((rest, tx))
        }
    };
    let mut answer = match state.hand_over(parts, true) {
        Ok(answer) => answer,
        Err(why) => return not_handed_over(why, html),
    };
    let reply = match rest {
        None => answer_within(answer, state.handler_timeout).await,
        Some((rest, tx)) => {
            // Forward the body while Django reads it; Django may answer before it has read
            // it all (a redirect, a refusal), and then the rest is not waited for. The
            // timeout for the answer starts once the body is in: an upload's own pace is
            // bounded by the body timeout, chunk by chunk.
            let forwarding = forward(rest, tx, state.body_timeout);
            tokio::pin!(forwarding);
            tokio::select! {
                reply = &mut answer => Some(reply),
                forwarded = &mut forwarding => match forwarded {
                    Ok(()) => answer_within(answer, state.handler_timeout).await,
                    Err(e) => return e.response(html),
                },
            }
        }
    };
    match reply {
        Some(Ok(reply)) => into_response(reply, &req, None),
        Some(Err(_)) => error_for(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal Server Error",
            html,
        ),
        None => timed_out(state.handler_timeout, html),
    }
}
