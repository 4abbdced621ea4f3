//! Python's reply as an Actix response: whole bodies (compressed when the policy asks),
//! files, and streamed bodies fed from Python.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use actix_web::body::{BodySize, MessageBody};
use actix_web::http::header::CONTENT_LENGTH;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use bytes::Bytes;
use tokio::sync::mpsc;

use crate::bridge::parts::Reply;
use crate::bridge::stream::StreamWaker;
use crate::http::compress::compress_response;
use crate::http::errors::json_error;
use crate::policy::gate::PolicyCore;

pub fn into_response(reply: Reply, req: &HttpRequest, policy: Option<&PolicyCore>) -> HttpResponse {
    let compression = policy.and_then(|p| p.compression.as_ref());
    if let (Some(c), false) = (compression, matches!(reply, Reply::File { .. })) {
        return compress_response(build_response(reply, req), c, req);
    }
    build_response(reply, req)
}

pub fn build_response(reply: Reply, req: &HttpRequest) -> HttpResponse {
    match reply {
        Reply::File {
            file,
            status,
            headers,
        } => {
            let mut resp = file.into_response(req);
            // A custom status replaces a plain 200 (not 206 / 304 / 412 answers to
            // range and conditional requests).
            if resp.status() == StatusCode::OK && status != 200 {
                *resp.status_mut() = status_code(status);
            }
            let map = resp.headers_mut();
            for (k, v) in headers {
                map.append(k, v);
            }
            resp
        }
        Reply::Full {
            status,
            headers,
            body,
        } => {
            let mut resp = HttpResponse::with_body(status_code(status), body);
            let map = resp.headers_mut();
            for (k, v) in headers {
                map.append(k, v);
            }
            resp.map_into_boxed_body()
        }
        Reply::WebSocket(_) => json_error(
            StatusCode::BAD_REQUEST,
            "A WebSocket answer to a request that is not a WebSocket handshake",
        ),
        Reply::Stream {
            status,
            headers,
            chunks,
            waker,
        } => {
            let mut size = BodySize::Stream;
            let mut kept = Vec::with_capacity(headers.len());
            for (k, v) in headers {
                if k == CONTENT_LENGTH {
                    if let Some(n) = v.to_str().ok().and_then(|s| s.trim().parse::<u64>().ok()) {
                        size = BodySize::Sized(n);
                        continue;
                    }
                }
                kept.push((k, v));
            }
            let mut resp = HttpResponse::with_body(
                status_code(status),
                ChannelBody {
                    chunks,
                    size,
                    waker,
                },
            );
            let map = resp.headers_mut();
            for (k, v) in kept {
                map.append(k, v);
            }
            resp.map_into_boxed_body()
        }
    }
}

fn status_code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// A response body fed chunk by chunk from Python. Dropping it (client gone) closes the
/// channel, which the producer sees as a failed write.
struct ChannelBody {
    chunks: mpsc::Receiver<Bytes>,
    size: BodySize,
    waker: Arc<StreamWaker>,
}

impl Drop for ChannelBody {
    fn drop(&mut self) {
        // Closed first: a producer woken by `ended` then sees the client gone, not a
        // full channel it would wait on.
        self.chunks.close();
        self.waker.ended();
    }
}

impl MessageBody for ChannelBody {
    type Error = std::io::Error;

    fn size(&self) -> BodySize {
        self.size
    }

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        if self.waker.aborted() {
            return Poll::Ready(Some(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the client did not read the response in time",
            ))));
        }
        let polled = self.chunks.poll_recv(cx);
        if let Poll::Ready(Some(_)) = &polled {
            self.waker.made_room();
        }
        polled.map(|c| c.map(Ok))
    }
}
