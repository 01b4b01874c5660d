//! What wraps every request: its id (`x-request-id`, accepted or generated, always returned),
//! the global concurrency limit (503 beyond it) and request timeout (504), one access-log line
//! and the HTTP metrics.
//!
//! A handler runs in a task of its own: when the timeout answers 504 the work is not cut off
//! half-way (a transaction either commits or rolls back on its own), it only stops being
//! waited for.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tokio::sync::Semaphore;

use super::error::ApiError;

/// The request-id header.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// What one request's code can learn about the request it serves.
#[derive(Debug)]
pub struct RequestContext {
    /// The request's id.
    pub id: String,
    /// The authenticated token's id, once known (for the access log).
    pub principal: OnceLock<String>,
}

tokio::task_local! {
    static CONTEXT: Arc<RequestContext>;
}

/// The id of the request being served (`-` outside a request).
pub fn current_request_id() -> String {
    CONTEXT
        .try_with(|c| c.id.clone())
        .unwrap_or_else(|_| "-".to_owned())
}

/// Records the principal of the request being served, for its access-log line.
pub fn set_principal(token_id: &str) {
    let _ = CONTEXT.try_with(|c| c.principal.set(token_id.to_owned()));
}

/// Limits of the HTTP service.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// Requests served at once; more are refused with 503.
    pub concurrency: Arc<Semaphore>,
    /// How long a request may take before it is answered with 504.
    pub timeout: Duration,
}

impl HttpLimits {
    /// `max_concurrent` requests at once, each answered within `timeout`.
    pub fn new(max_concurrent: usize, timeout: Duration) -> Self {
        Self {
            concurrency: Arc::new(Semaphore::new(max_concurrent)),
            timeout,
        }
    }
}

/// A client's id if it is 1..=128 characters of `[A-Za-z0-9._:-]`; otherwise a fresh UUID (a
/// client cannot inject text into the log through it).
fn request_id(req: &Request) -> String {
    req.headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            (1..=128).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b))
        })
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned)
}

/// The middleware around every route (see the module docs).
pub async fn observe(State(limits): State<HttpLimits>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request_id(&req);
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let context = Arc::new(RequestContext {
        id: id.clone(),
        principal: OnceLock::new(),
    });
    let mut response = match limits.concurrency.clone().try_acquire_owned() {
        Err(_) => ApiError::unavailable("the service is at its concurrency limit; retry later")
            .into_response_with_id(&id),
        Ok(permit) => {
            let task = tokio::spawn(CONTEXT.scope(context.clone(), async move {
                let response = next.run(req).await;
                drop(permit);
                response
            }));
            match tokio::time::timeout(limits.timeout, task).await {
                Ok(Ok(response)) => response,
                Ok(Err(_)) => {
                    tracing::error!(request_id = %id, "request handler panicked");
                    ApiError::new(
                        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                        "unexpected_error",
                        "the request failed; the service log has its request id",
                    )
                    .into_response_with_id(&id)
                }
                Err(_) => ApiError::timeout("the request took longer than the service allows")
                    .into_response_with_id(&id),
            }
        }
    };
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID.clone(), v);
    }
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    let principal = context.principal.get().map_or("-", String::as_str);
    tracing::info!(
        target: "brokerdb::access",
        request_id = %id,
        method = %method,
        route = %route,
        status,
        duration_ms = elapsed.as_secs_f64() * 1000.0,
        principal,
        "request"
    );
    crate::metrics::http_request(&route, method.as_str(), status, elapsed);
    response
}
