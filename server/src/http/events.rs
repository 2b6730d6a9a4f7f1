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
/// {type, level, code, message}, `resync` (reload everything shown). The stream ends when its
/// session is logged out or expires, its token is revoked or its user removed, with a last
/// event `signed_out`.
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
    // The engine's stream ends only when the caller's credential does (logged out, revoked,
    // user removed): the page is told, so it stops reconnecting and asks for a login.
    let signed_out = futures::stream::once(async {
        Ok(Event::default().event(SIGNED_OUT).data("{\"type\":\"signed_out\"}"))
    });
    // Streams end at shutdown, so graceful shutdown does not wait for idle dashboards.
    let changes = changes.chain(signed_out).take_until(state.stop.clone().cancelled_owned());
    Ok(Sse::new(changes).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// The last event of a stream whose credential ended.
pub const SIGNED_OUT: &str = app::live::SIGNED_OUT;

fn to_event(change: &SystemEvent) -> Event {
    let data = serde_json::to_string(change).unwrap_or_else(|_| "{}".to_owned());
    Event::default().event(change.name()).data(data)
}
