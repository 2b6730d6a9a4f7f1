//! `GET /api/v1/events`: every system change notification as a server-sent event.

use super::AppState;
use super::auth::AuthenticatedCaller;
use super::error::ApiError;
use app::auth::Right;
use app::model::SystemEvent;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use std::convert::Infallible;
use std::time::Duration;
use tokio_stream::wrappers::BroadcastStream;

pub async fn stream(
    State(state): State<AppState>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    caller.require(Right::Read)?;
    let changes = BroadcastStream::new(state.engine.events.subscribe()).map(|change| {
        Ok(match change {
            Ok(change) => to_event(&change),
            // The client fell behind: it reloads everything it shows.
            Err(_lagged) => to_event(&SystemEvent::Resync),
        })
    });
    // Streams end at shutdown, so graceful shutdown does not wait for idle dashboards.
    let changes = changes.take_until(state.stop.clone().cancelled_owned());
    Ok(Sse::new(changes).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

fn to_event(change: &SystemEvent) -> Event {
    let data = serde_json::to_string(change).unwrap_or_else(|_| "{}".to_owned());
    Event::default().event(change.name()).data(data)
}
