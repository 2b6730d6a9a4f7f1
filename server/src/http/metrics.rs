//! `GET /metrics`: Prometheus text format, for a scraper with a metrics-scoped viewer token.

use super::AppState;
use super::error::ApiError;
use super::identify::AuthenticatedCaller;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use std::fmt::Write;

/// Prometheus text format: servers by state, open failovers, copies under way, event clients
///
/// For a scraper, create a token of scope `metrics` (`standby token create prometheus --scope
/// metrics`): it reads this and nothing else.
#[utoipa::path(get, path = "/metrics", tag = "observability",
    responses(
        (status = 200, description = "Prometheus text exposition format", content_type = "text/plain"),
        (status = 401, description = "Not logged in", body = super::error::ErrorBody),
    ))]
pub async fn metrics(
    State(state): State<AppState>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
) -> Result<impl IntoResponse, ApiError> {
    let figures = state.console.metrics(&caller).await?;
    let mut text = String::new();
    let _ = writeln!(text, "# HELP standby_servers Registered servers by state.");
    let _ = writeln!(text, "# TYPE standby_servers gauge");
    for (server_state, count) in &figures.servers {
        let _ = writeln!(text, "standby_servers{{state=\"{}\"}} {count}", server_state.as_str());
    }
    let _ = writeln!(
        text,
        "# HELP standby_failovers_open Failover log entries failing over, active or failing back."
    );
    let _ = writeln!(text, "# TYPE standby_failovers_open gauge");
    for (status, count) in &figures.open_failovers {
        let _ = writeln!(text, "standby_failovers_open{{status=\"{}\"}} {count}", status.as_str());
    }
    let _ = writeln!(text, "# HELP standby_material_copies Material copies under way.");
    let _ = writeln!(text, "# TYPE standby_material_copies gauge");
    for (status, count) in &figures.copies {
        let _ = writeln!(text, "standby_material_copies{{status=\"{}\"}} {count}", status.as_str());
    }
    let _ = writeln!(
        text,
        "# HELP standby_recorders_covered Recorders a failover would cover now (see /api/v1/readiness)."
    );
    let _ = writeln!(text, "# TYPE standby_recorders_covered gauge");
    let _ = writeln!(text, "standby_recorders_covered {}", figures.covered);
    let _ = writeln!(
        text,
        "# HELP standby_recorders_not_covered Recorders a failover would not cover now: alert on this before a failure."
    );
    let _ = writeln!(text, "# TYPE standby_recorders_not_covered gauge");
    let _ = writeln!(text, "standby_recorders_not_covered {}", figures.recorders - figures.covered);
    let _ = writeln!(text, "# HELP standby_event_subscribers Connected event-stream clients.");
    let _ = writeln!(text, "# TYPE standby_event_subscribers gauge");
    let _ = writeln!(text, "standby_event_subscribers {}", figures.event_subscribers);
    let _ =
        writeln!(text, "# HELP standby_leader 1 when this manager leads (watches the recorders).");
    let _ = writeln!(text, "# TYPE standby_leader gauge");
    let _ = writeln!(text, "standby_leader {}", u8::from(figures.leader));
    let _ = writeln!(
        text,
        "# HELP standby_leader_epoch The current leadership term as this manager knows it."
    );
    let _ = writeln!(text, "# TYPE standby_leader_epoch gauge");
    let _ = writeln!(text, "standby_leader_epoch {}", figures.epoch);
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text))
}
