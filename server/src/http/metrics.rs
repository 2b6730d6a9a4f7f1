//! `GET /metrics`: Prometheus text format, for a scraper with a viewer token.

use super::AppState;
use super::auth::AuthenticatedCaller;
use super::error::ApiError;
use app::auth::Right;
use app::model::{CopyStatus, FailoverStatus, ServerState};
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use std::fmt::Write;

pub async fn metrics(
    State(state): State<AppState>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
) -> Result<impl IntoResponse, ApiError> {
    caller.require(Right::Read)?;
    let engine = &state.engine;
    let servers = engine.store.list_servers().await.map_err(app::failure::Failure::from)?;
    let open = engine.store.open_failovers().await.map_err(app::failure::Failure::from)?;
    let copies = engine.store.copies_in_progress().await.map_err(app::failure::Failure::from)?;
    let mut text = String::new();
    let _ = writeln!(text, "# HELP standby_servers Registered servers by state.");
    let _ = writeln!(text, "# TYPE standby_servers gauge");
    for server_state in [
        ServerState::Ok,
        ServerState::Unreachable,
        ServerState::Broken,
        ServerState::Standby,
        ServerState::Acting,
    ] {
        let count = servers.iter().filter(|server| server.state == server_state).count();
        let _ = writeln!(text, "standby_servers{{state=\"{}\"}} {count}", server_state.as_str());
    }
    let _ = writeln!(
        text,
        "# HELP standby_failovers_open Failover log entries failing over, active or failing back."
    );
    let _ = writeln!(text, "# TYPE standby_failovers_open gauge");
    for status in [FailoverStatus::FailingOver, FailoverStatus::Active, FailoverStatus::FailingBack]
    {
        let count = open.iter().filter(|entry| entry.status == status).count();
        let _ = writeln!(text, "standby_failovers_open{{status=\"{}\"}} {count}", status.as_str());
    }
    let _ = writeln!(text, "# HELP standby_material_copies Material copies under way.");
    let _ = writeln!(text, "# TYPE standby_material_copies gauge");
    for status in [CopyStatus::Queued, CopyStatus::Copying] {
        let count = copies.iter().filter(|entry| entry.copy.status == status).count();
        let _ = writeln!(text, "standby_material_copies{{status=\"{}\"}} {count}", status.as_str());
    }
    let _ = writeln!(text, "# HELP standby_event_subscribers Connected event-stream clients.");
    let _ = writeln!(text, "# TYPE standby_event_subscribers gauge");
    let _ = writeln!(text, "standby_event_subscribers {}", engine.events.subscribers());
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text))
}
