//! Running a route's gate inside the Actix service.

use std::future::Future;
use std::task::{Context, Poll};

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};

use crate::auth::identity::Identity;
use crate::http::errors::json_error;
use crate::metrics::Recorder;
use crate::policy::gate::{Gate, PolicyCore, RequestView};

/// The identity a test client's `force_authenticate` puts on a request (only the test
/// app reads it).
#[derive(Clone)]
pub struct Forced(pub Identity);

/// Rate limit, authentication and guards for a request: the identity and whether Python
/// authentication or guards are still to run, or the refusal (with its CORS headers),
/// counted in the metrics. `forced` (tests only) stands in for authentication.
pub async fn run_gate(
    req: &HttpRequest,
    policy: Option<&PolicyCore>,
    metrics: Option<&Recorder>,
    forced: Option<&Identity>,
    secure: bool,
) -> Result<(Option<Identity>, bool), HttpResponse> {
    let Some(policy) = policy.filter(|p| p.needs_gate()) else {
        return Ok((forced.cloned(), false));
    };
    let view = RequestView {
        method: req.method(),
        headers: req.headers(),
        query: req.query_string(),
        peer: req.peer_addr().map(|a| a.ip()),
        forced,
    };
    let gate = if policy.gate_is_immediate() {
        // Nothing to wait for: run it here, so its state never enters the caller's future.
        let mut fut = std::pin::pin!(policy.gate(&view));
        match fut
            .as_mut()
            .poll(&mut Context::from_waker(std::task::Waker::noop()))
        {
            Poll::Ready(gate) => gate,
            // Cannot happen (nothing in an immediate gate waits); never hang if it did.
            Poll::Pending => Gate::Reject(json_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal Server Error",
            )),
        }
    } else {
        // Boxed: the state of Redis calls stays out of every request's future.
        Box::pin(policy.gate(&view)).await
    };
    match gate {
        Gate::Reject(mut resp) => {
            policy.finish(req.headers(), secure, resp.headers_mut());
            if let Some(metrics) = metrics {
                metrics.refused(resp.status().as_u16());
            }
            Err(resp)
        }
        Gate::Pass { identity, python } => Ok((identity, python)),
    }
}
