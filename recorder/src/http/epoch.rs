//! Fencing a stale manager: the agent remembers the largest leadership epoch a manager has sent
//! it and refuses a command that carries an older one (see [`agent_api::epoch`]). Reads pass
//! whatever they carry; requests without the header (one manager on SQLite, test harnesses,
//! administrators) pass too. Runs after the credential check, so that only a caller holding the
//! secret can raise the epoch.

use crate::error::ApiError;
use agent_api::epoch;
use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// The largest epoch seen since the agent started.
#[derive(Clone, Default)]
pub struct Highest(pub Arc<AtomicI64>);

pub async fn fence(
    State(Highest(highest)): State<Highest>,
    request: Request,
    next: Next,
) -> Response {
    let carried =
        request.headers().get(epoch::HEADER).map(|value| value.to_str().unwrap_or("(not text)"));
    let epoch = match epoch::parse(carried) {
        None => return next.run(request).await,
        Some(Err(message)) => {
            return ApiError::BadRequest { code: "invalid_epoch", field: None, message }
                .into_response();
        }
        Some(Ok(epoch)) => epoch,
    };
    let before = highest.fetch_max(epoch, Ordering::SeqCst);
    let changes = !matches!(*request.method(), Method::GET | Method::HEAD);
    if changes && epoch < before {
        tracing::warn!(epoch, highest = before, "refused a command from a stale manager");
        return ApiError::Conflict(format!(
            "This command comes from a manager whose term has ended (epoch {epoch}); the \
             leading manager's is epoch {before}."
        ))
        .into_response();
    }
    next.run(request).await
}
