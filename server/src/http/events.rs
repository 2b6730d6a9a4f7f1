//! `GET /api/v1/events`: every system change notification as a server-sent event.

use super::AppState;
use super::error::ApiError;
use super::identify::AuthenticatedCaller;
use app::model::SystemEvent;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use std::convert::Infallible;
use std::time::Duration;

/// Server-sent events: every system change notification
///
/// Event names: `server_changed` {type, server}, `failover_changed` {type, failover}, `alert`
/// {type, level, code, message}, `resync` (reload everything shown).
#[utoipa::path(get, path = "/api/v1/events", tag = "events",
    responses(
        (status = 200, description = "An endless text/event-stream", content_type = "text/event-stream", body = SystemEvent),
        (status = 401, description = "Not logged in", body = super::error::ErrorBody),
    ))]
pub async fn stream(
    State(state): State<AppState>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let changes = state.console.events(&caller)?.map(|change| Ok(to_event(&change)));
    // Streams end at shutdown, so graceful shutdown does not wait for idle dashboards.
    let changes = changes.take_until(state.stop.clone().cancelled_owned());
    Ok(Sse::new(changes).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

fn to_event(change: &SystemEvent) -> Event {
    let data = serde_json::to_string(change).unwrap_or_else(|_| "{}".to_owned());
    Event::default().event(change.name()).data(data)
}
