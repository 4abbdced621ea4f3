//! Reading a request body under the size limit, or parsing it as a multipart form.

use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;

use super::errors::json_error;
use super::form::{self, FormError, FormLimits, ParsedForm};

fn is_multipart(req: &HttpRequest) -> Option<&str> {
    let ct = req.headers().get(CONTENT_TYPE)?.to_str().ok()?;
    ct.trim_start()
        .get(..19)
        .filter(|p| p.eq_ignore_ascii_case("multipart/form-data"))
        .map(|_| ct)
}

fn declared_length(req: &HttpRequest) -> Option<u64> {
    req.headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
}

/// Reads the body, or for an API route receiving multipart/form-data, parses it.
pub async fn read_input(
    req: &HttpRequest,
    payload: web::Payload,
    limits: FormLimits,
    api_route: bool,
) -> Result<(Bytes, Option<ParsedForm>), HttpResponse> {
    let content_type = if api_route { is_multipart(req) } else { None };
    let Some(content_type) = content_type else {
        return read_body(req, payload, limits.max_body)
            .await
            .map(|b| (b, None));
    };
    if declared_length(req).is_some_and(|len| len > limits.max_body as u64) {
        return Err(too_large(limits.max_body));
    }
    let parsed = match form::boundary(content_type) {
        Ok(boundary) => form::parse_multipart(payload, boundary, &limits).await,
        Err(e) => Err(e),
    };
    match parsed {
        Ok(form) => Ok((Bytes::new(), Some(form))),
        Err(FormError::TooLarge(limit)) => Err(too_large(limit)),
        Err(FormError::Malformed(msg)) => Err(json_error(StatusCode::BAD_REQUEST, &msg)),
    }
}

fn too_large(limit: usize) -> HttpResponse {
    json_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!("Request body is larger than the limit of {limit} bytes"),
    )
}

/// Reads the body up to `limit` bytes, refusing early when Content-Length already says
/// it is too large. A single-chunk body is passed on without copying.
async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<Bytes, HttpResponse> {
    if declared_length(req).is_some_and(|len| len > limit as u64) {
        return Err(too_large(limit));
    }
    let mut first: Option<Bytes> = None;
    let mut buf: Option<BytesMut> = None;
    let mut total = 0usize;
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            json_error(
                StatusCode::BAD_REQUEST,
                &format!("Could not read the request body: {e}"),
            )
        })?;
        total += chunk.len();
        if total > limit {
            return Err(too_large(limit));
        }
        match (&mut first, &mut buf) {
            (None, None) => first = Some(chunk),
            (Some(f), None) => {
                let mut b = BytesMut::with_capacity(f.len() + chunk.len());
                b.extend_from_slice(f);
                b.extend_from_slice(&chunk);
                first = None;
                buf = Some(b);
            }
            (_, Some(b)) => b.extend_from_slice(&chunk),
        }
    }
    Ok(match (first, buf) {
        (_, Some(b)) => b.freeze(),
        (Some(f), None) => f,
        (None, None) => Bytes::new(),
    })
}
