//! `GET /api/v1/events`: every system change notification as a server-sent event.

use super::AppState;
use super::auth::AuthenticatedCaller;
use super::error::ApiError;
use app::model::SystemEvent;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use std::convert::Infallible;
use std::time::Duration;

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
