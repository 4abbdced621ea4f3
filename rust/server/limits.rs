//! Limits on a request's head (gunicorn's three), on the requests waiting for Python,
//! and on how long Python gets to start an answer.

use std::future::Future;
use std::time::Duration;

use actix_web::http::header::{HeaderValue, RETRY_AFTER};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};

use super::state::HeadLimits;
use crate::bridge::queue::NotHandedOver;
use crate::http::errors::{accepts_html, error_for};

/// The refusal of a head over the limits: 414 for the request line, 431 for header fields
/// (an HTML page for a browser).
pub fn check_head(req: &HttpRequest, limits: HeadLimits) -> Option<HttpResponse> {
    let html = || accepts_html(req.headers());
    let target = req.uri().path_and_query().map_or(1, |p| p.as_str().len());
    // "METHOD target HTTP/1.1"
    if req.method().as_str().len() + target + 10 > limits.line {
        return Some(error_for(
            StatusCode::URI_TOO_LONG,
            &format!("The request line is longer than {} bytes", limits.line),
            html(),
        ));
    }
    let headers = req.headers();
    if headers.len() > limits.fields {
        return Some(error_for(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            &format!("More than {} header fields", limits.fields),
            html(),
        ));
    }
    for (name, value) in headers {
        if name.as_str().len() + value.len() + 2 > limits.field_size {
            return Some(error_for(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                &format!(
                    "The header field {} is longer than {} bytes",
                    name.as_str(),
                    limits.field_size
                ),
                html(),
            ));
        }
    }
    None
}

/// 503 for a request Python could not take: busy (with Retry-After) or stopping.
pub fn not_handed_over(why: NotHandedOver, html: bool) -> HttpResponse {
    match why {
        NotHandedOver::Busy => {
            let mut resp = error_for(
                StatusCode::SERVICE_UNAVAILABLE,
                "The server is busy; try again shortly",
                html,
            );
            resp.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("1"));
            resp
        }
        NotHandedOver::Closed => error_for(
            StatusCode::SERVICE_UNAVAILABLE,
            "The server is shutting down",
            html,
        ),
    }
}

/// Python's answer, or None when `limit` passed first.
pub async fn answer_within<T>(
    answer: impl Future<Output = T>,
    limit: Option<Duration>,
) -> Option<T> {
    match limit {
        None => Some(answer.await),
        Some(limit) => actix_rt::time::timeout(limit, answer).await.ok(),
    }
}

/// 504 for an answer that did not start within the timeout.
pub fn timed_out(limit: Option<Duration>, html: bool) -> HttpResponse {
    let seconds = limit.map_or(0.0, |d| d.as_secs_f64());
    error_for(
        StatusCode::GATEWAY_TIMEOUT,
        &format!("No answer within {seconds} seconds"),
        html,
    )
}
