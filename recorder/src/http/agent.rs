//! The agent's own state over HTTP: health, settings, acting as a failover server, channels.

use super::params::{HealthStreamQuery, Params, RawQuery, ReplaceSettingsQuery, StopActingQuery};
use crate::agent::Agent;
use crate::error::ApiError;
use agent_api::settings::parse;
use agent_api::{ActAs, Acting, Channel, ErrorBody, Health, SettingsBundle, Stopped, paths};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use futures::StreamExt;
use std::sync::Arc;

fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let content_type =
        headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if content_type
        .split(';')
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
    {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType("Send the body as application/json.".into()))
    }
}

/// Who the agent is and whom it acts for
#[utoipa::path(get, path = paths::HEALTH, tag = "agent",
    responses((status = 200, description = "OK", body = Health)))]
pub async fn health(State(agent): State<Arc<Agent>>) -> Json<Health> {
    Json(agent.health())
}

/// Health as a stream: a heartbeat line now and every `every_ms`
///
/// Newline-delimited JSON, one `Health` object per line, for as long as the connection stays
/// open. The manager keeps one open per agent: a dropped connection tells it at once that the
/// process died; heartbeats that stop tell it that the host went silent.
#[utoipa::path(get, path = paths::HEALTH_STREAM, tag = "agent",
    params(HealthStreamQuery),
    responses(
        (status = 200, description = "An endless stream of heartbeats", content_type = "application/x-ndjson", body = Health),
        (status = 400, description = "`every_ms` out of range", body = ErrorBody),
    ))]
pub async fn health_stream(
    State(agent): State<Arc<Agent>>,
    State(stopping): State<super::Stopping>,
    query: RawQuery,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let params = Params::parse::<HealthStreamQuery>(query)?;
    let every_ms = params.number::<u64>("every_ms")?.unwrap_or(250);
    if !agent_api::health::HEARTBEAT_MS.contains(&every_ms) {
        return Err(ApiError::invalid_field("every_ms", "must be between 50 and 10000"));
    }
    let mut ticks = tokio::time::interval(std::time::Duration::from_millis(every_ms));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let beats = futures::stream::unfold((agent, ticks), |(agent, mut ticks)| async move {
        ticks.tick().await;
        let mut line = serde_json::to_vec(&agent.health()).unwrap_or_default();
        line.push(b'\n');
        Some((Ok::<_, std::convert::Infallible>(Bytes::from(line)), (agent, ticks)))
    })
    .take_until(stopping.wait());
    let headers =
        [(header::CONTENT_TYPE, agent_api::health::NDJSON), (header::CACHE_CONTROL, "no-store")];
    Ok((headers, axum::body::Body::from_stream(beats)).into_response())
}

/// The settings bundle in force
///
/// An idle failover server has an empty bundle, version 0.
#[utoipa::path(get, path = paths::SETTINGS, tag = "agent",
    responses((status = 200, description = "OK", body = SettingsBundle)))]
pub async fn get_settings(State(agent): State<Arc<Agent>>) -> Json<SettingsBundle> {
    Json(agent.settings())
}

/// Replace the settings bundle; the agent assigns the next version
///
/// The recording loop switches to it at once. While acting, this changes the settings of the
/// recorder the failover server acts for.
#[utoipa::path(put, path = paths::SETTINGS, tag = "agent",
    params(ReplaceSettingsQuery),
    request_body(content = SettingsBundle, description = "`version` is ignored"),
    responses(
        (status = 200, description = "The bundle as stored, with its new version", body = SettingsBundle),
        (status = 400, description = "Not a valid bundle; `field` names the offending field (also when a channel id already holds material of another kind)", body = ErrorBody),
        (status = 409, description = "`expected_version` is not the current version, or an idle failover server (it takes settings only with act-as)", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
    ))]
pub async fn put_settings(
    State(agent): State<Arc<Agent>>,
    query: RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<SettingsBundle>, ApiError> {
    let params = Params::parse::<ReplaceSettingsQuery>(query)?;
    require_json(&headers)?;
    let bundle: SettingsBundle = parse(&body)?;
    Ok(Json(agent.replace_settings(bundle, params.number("expected_version")?)?))
}

/// Whom the agent acts for
#[utoipa::path(get, path = paths::ACTING, tag = "agent",
    responses((status = 200, description = "OK", body = Acting)))]
pub async fn get_acting(State(agent): State<Arc<Agent>>) -> Json<Acting> {
    let health = agent.health();
    Json(Acting { acting_for: health.acting_for, settings_version: health.settings_version })
}

/// Act as a failover server for a recorder (failover kind only)
///
/// The agent records the bundle's channels under their ids; each record's origin is the failover
/// server's own name. Persisted: a restarted failover server acts again. Repeating the call for
/// the same recorder is accepted (a retry, or a settings refresh).
#[utoipa::path(put, path = paths::ACTING, tag = "agent",
    request_body = ActAs,
    responses(
        (status = 200, description = "Acting", body = Acting),
        (status = 400, description = "`field` names the offending field, e.g. `settings.channels[0].kind`", body = ErrorBody),
        (status = 409, description = "A recorder, or already acting for another recorder", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
    ))]
pub async fn put_acting(
    State(agent): State<Arc<Agent>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Acting>, ApiError> {
    require_json(&headers)?;
    let request: ActAs = parse(&body)?;
    Ok(Json(agent.act_as(&request.recorder, request.settings)?))
}

/// Stop acting; the material stays in the archive
///
/// Idempotent when idle. The answer carries the settings as they stood at the stop, so a
/// failback can hand them to the repaired recorder, and comes once the segments it was
/// recording are closed.
#[utoipa::path(delete, path = paths::ACTING, tag = "agent",
    params(StopActingQuery),
    responses(
        (status = 200, description = "Idle", body = Stopped),
        (status = 400, description = "A malformed query", body = ErrorBody),
        (status = 409, description = "A recorder, or acting for another recorder than `recorder`", body = ErrorBody),
    ))]
pub async fn delete_acting(
    State(agent): State<Arc<Agent>>,
    query: RawQuery,
) -> Result<Json<Stopped>, ApiError> {
    let params = Params::parse::<StopActingQuery>(query)?;
    let stopped = agent.stop_acting(params.get("recorder"))?;
    // Answered once what it recorded is closed: a drill removes it next, a copy reads it.
    agent.recording_settled().await;
    Ok(Json(stopped))
}

/// Configured channels and channels with material, by id
#[utoipa::path(get, path = paths::CHANNELS, tag = "agent",
    responses((status = 200, description = "OK", body = Vec<Channel>)))]
pub async fn channels(State(agent): State<Arc<Agent>>) -> Json<Vec<Channel>> {
    Json(agent.channels())
}
