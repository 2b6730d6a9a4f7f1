//! The recorder API's routes. Handlers are thin: parse and check the request, call the agent or
//! the archive, map errors to [`ApiError`]. Paths are documented in `recorder/API.md` and
//! `/api/v1/openapi.json`.

use crate::agent::{Agent, AgentError};
use crate::archive::ArchiveError;
use crate::archive::channel::ChannelArchive;
use crate::copy::{CopyService, handlers as copy_tasks};
use crate::error::ApiError;
use crate::ingest::{self, IngestError};
use crate::search::{self, Cursor, Filter};
use crate::time::{TimeRange, parse_instant};
use crate::{digest, playback, wire};
use agent_api::settings::parse;
use agent_api::{ActAs, Acting, ChannelKind, InvalidSettings, SettingsBundle};
use axum::body::{Body, Bytes};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, FromRef, OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use std::sync::Arc;

/// Settings bodies may carry several configuration files of up to 1 MiB each.
const SETTINGS_BODY_LIMIT: usize = 16 * 1024 * 1024;

/// The agent and the copy-task service side by side: each route takes the part it serves.
#[derive(Clone, FromRef)]
pub struct ApiState {
    pub agent: Arc<Agent>,
    pub copies: CopyService,
}

pub fn router(state: ApiState) -> Router {
    let api = Router::new()
        .route("/v1/health", get(health))
        .route("/v1/openapi.json", get(openapi))
        .route("/v1/settings", get(get_settings).put(put_settings))
        .route("/v1/acting", get(get_acting).put(put_acting).delete(delete_acting))
        .route("/v1/channels", get(channels))
        .route("/v1/channels/{id}/digest", get(channel_digest))
        .route("/v1/channels/{id}/playback", get(channel_playback))
        .route("/v1/channels/{id}/records", post(channel_ingest).layer(DefaultBodyLimit::disable()))
        .route("/v1/channels/{id}/anpr", get(anpr_search))
        .route("/v1/channels/{id}/alarms", get(alarm_search))
        .route("/v1/copy-tasks", get(copy_tasks::list).post(copy_tasks::start))
        .route("/v1/copy-tasks/{id}", get(copy_tasks::one))
        .route("/v1/copy-tasks/{id}/client-info", put(copy_tasks::client_info))
        .layer(DefaultBodyLimit::max(SETTINGS_BODY_LIMIT))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);
    Router::new().nest("/api", api).with_state(state)
}

impl From<AgentError> for ApiError {
    fn from(error: AgentError) -> Self {
        match error {
            AgentError::Invalid(invalid) => invalid.into(),
            AgentError::Conflict(message) => ApiError::Conflict(message),
            AgentError::Archive(error) => error.into(),
            error @ AgentError::Io { .. } => ApiError::internal(error),
        }
    }
}

impl From<InvalidSettings> for ApiError {
    fn from(invalid: InvalidSettings) -> Self {
        ApiError::invalid_field(invalid.field, invalid.message)
    }
}

impl From<ArchiveError> for ApiError {
    fn from(error: ArchiveError) -> Self {
        match error {
            ArchiveError::KindMismatch { .. } | ArchiveError::InvalidChannelId(_) => {
                ApiError::bad_request(error.to_string())
            }
            error @ ArchiveError::Io { .. } => ApiError::internal(error),
        }
    }
}

impl From<IngestError> for ApiError {
    fn from(error: IngestError) -> Self {
        match error {
            IngestError::Io(cause) => ApiError::internal(cause),
            error => ApiError::BadRequest {
                code: "invalid_records",
                field: Some("body".into()),
                message: error.to_string(),
            },
        }
    }
}

/// Query parameters, checked: unknown or repeated names are refused, so a typo such as
/// `start=` for `from=` is a 400 rather than a silently different request.
struct Params(Vec<(String, String)>);

impl Params {
    fn parse(
        query: Result<Query<Vec<(String, String)>>, QueryRejection>,
        allowed: &[&str],
    ) -> Result<Self, ApiError> {
        let Query(pairs) = query.map_err(|e| {
            ApiError::bad_request(format!("The query string is malformed: {}", e.body_text()))
        })?;
        for (i, (name, _)) in pairs.iter().enumerate() {
            if !allowed.contains(&name.as_str()) {
                return Err(ApiError::invalid_field(
                    name.clone(),
                    format!("unknown parameter; expected {}", allowed.join(", ")),
                ));
            }
            if pairs[..i].iter().any(|(other, _)| other == name) {
                return Err(ApiError::invalid_field(name.clone(), "given more than once"));
            }
        }
        Ok(Params(pairs))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    fn time(&self, name: &str) -> Result<i64, ApiError> {
        let text = self
            .get(name)
            .ok_or_else(|| ApiError::invalid_field(name, "is required (an RFC 3339 time)"))?;
        parse_instant(text).map_err(|e| ApiError::invalid_field(name, e))
    }

    fn range(&self) -> Result<TimeRange, ApiError> {
        let (from, to) = (self.time("from")?, self.time("to")?);
        TimeRange::new(from, to).map_err(|e| ApiError::invalid_field("from", e))
    }

    fn origin(&self) -> Result<Option<String>, ApiError> {
        match self.get("origin") {
            Some("") => Err(ApiError::invalid_field("origin", "must not be empty")),
            other => Ok(other.map(str::to_owned)),
        }
    }

    fn number<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, ApiError> {
        self.get(name)
            .map(|text| {
                text.parse().map_err(|_| {
                    ApiError::invalid_field(name, format!("{text:?} is not a valid number"))
                })
            })
            .transpose()
    }
}

fn channel(
    agent: &Agent,
    id: Result<Path<String>, PathRejection>,
) -> Result<Arc<ChannelArchive>, ApiError> {
    let Path(id) = id.map_err(|e| ApiError::bad_request(e.body_text()))?;
    agent
        .archive
        .channel(&id)
        .ok_or_else(|| ApiError::NotFound(format!("There is no channel {id:?} on {}.", agent.name)))
}

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

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work).await.map_err(ApiError::internal)?.map_err(ApiError::internal)
}

async fn health(State(agent): State<Arc<Agent>>) -> impl IntoResponse {
    Json(agent.health())
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], include_str!("openapi.json"))
}

async fn get_settings(State(agent): State<Arc<Agent>>) -> impl IntoResponse {
    Json(agent.settings())
}

async fn put_settings(
    State(agent): State<Arc<Agent>>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<SettingsBundle>, ApiError> {
    let params = Params::parse(query, &["expected_version"])?;
    require_json(&headers)?;
    let bundle: SettingsBundle = parse(&body)?;
    Ok(Json(agent.replace_settings(bundle, params.number("expected_version")?)?))
}

async fn get_acting(State(agent): State<Arc<Agent>>) -> impl IntoResponse {
    let health = agent.health();
    Json(Acting { acting_for: health.acting_for, settings_version: health.settings_version })
}

async fn put_acting(
    State(agent): State<Arc<Agent>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    require_json(&headers)?;
    let request: ActAs = parse(&body)?;
    Ok(Json(agent.act_as(&request.recorder, request.settings)?))
}

async fn delete_acting(
    State(agent): State<Arc<Agent>>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let params = Params::parse(query, &["recorder"])?;
    Ok(Json(agent.stop_acting(params.get("recorder"))?))
}

async fn channels(State(agent): State<Arc<Agent>>) -> impl IntoResponse {
    Json(agent.channels())
}

async fn channel_digest(
    State(agent): State<Arc<Agent>>,
    id: Result<Path<String>, PathRejection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let params = Params::parse(query, &["from", "to", "origin"])?;
    let (range, origin) = (params.range()?, params.origin()?);
    let channel = channel(&agent, id)?;
    Ok(Json(blocking(move || digest::digest(&channel, range, origin)).await?))
}

async fn channel_playback(
    State(agent): State<Arc<Agent>>,
    id: Result<Path<String>, PathRejection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let params = Params::parse(query, &["from", "to", "origin"])?;
    let (range, origin) = (params.range()?, params.origin()?);
    let channel = channel(&agent, id)?;
    let kind = channel.kind;
    let body = Body::from_stream(playback::stream(channel, range, origin));
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(wire::MEDIA_TYPE));
    headers.insert("x-standby-channel-kind", HeaderValue::from_static(kind.as_str()));
    Ok(response)
}

async fn channel_ingest(
    State(agent): State<Arc<Agent>>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<impl IntoResponse, ApiError> {
    let channel = channel(&agent, id)?;
    let content_type =
        headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case(wire::MEDIA_TYPE)
        && !media.eq_ignore_ascii_case("application/octet-stream")
    {
        return Err(ApiError::UnsupportedMediaType(format!(
            "Send records as {} (the playback format), not {content_type:?}.",
            wire::MEDIA_TYPE
        )));
    }
    let outcome = ingest::ingest_stream(channel.clone(), body.into_data_stream()).await?;
    tracing::info!(channel = %channel.id, received = outcome.received, stored = outcome.stored,
        duplicates = outcome.duplicates, "ingested records");
    Ok(Json(outcome))
}

fn search_query(params: &Params, filter: Filter) -> Result<search::Query, ApiError> {
    let after = params
        .get("cursor")
        .map(|text| {
            Cursor::decode(text).ok_or_else(|| {
                ApiError::invalid_field("cursor", "is not a cursor from a previous page")
            })
        })
        .transpose()?;
    let limit = params.number::<usize>("limit")?.unwrap_or(search::DEFAULT_LIMIT);
    if !(1..=search::MAX_LIMIT).contains(&limit) {
        return Err(ApiError::invalid_field(
            "limit",
            format!("must be between 1 and {}", search::MAX_LIMIT),
        ));
    }
    Ok(search::Query { range: params.range()?, origin: params.origin()?, after, limit, filter })
}

fn require_kind(channel: &ChannelArchive, kind: ChannelKind) -> Result<(), ApiError> {
    if channel.kind == kind {
        Ok(())
    } else {
        Err(ApiError::BadRequest {
            code: "wrong_channel_kind",
            field: None,
            message: format!(
                "Channel {:?} is a {} channel; this search needs an {kind} channel.",
                channel.id, channel.kind
            ),
        })
    }
}

async fn anpr_search(
    State(agent): State<Arc<Agent>>,
    id: Result<Path<String>, PathRejection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let params = Params::parse(query, &["from", "to", "origin", "plate", "cursor", "limit"])?;
    let query =
        search_query(&params, Filter::Anpr { plate: params.get("plate").map(str::to_owned) })?;
    let channel = channel(&agent, id)?;
    require_kind(&channel, ChannelKind::Anpr)?;
    Ok(Json(blocking(move || search::search(&channel, &query)).await?))
}

async fn alarm_search(
    State(agent): State<Arc<Agent>>,
    id: Result<Path<String>, PathRejection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let params = Params::parse(query, &["from", "to", "origin", "alarm_id", "cursor", "limit"])?;
    let query = search_query(&params, Filter::Alarm { alarm_id: params.number("alarm_id")? })?;
    let channel = channel(&agent, id)?;
    require_kind(&channel, ChannelKind::Alarm)?;
    Ok(Json(blocking(move || search::search(&channel, &query)).await?))
}

// `OriginalUri`, because inside `nest("/api")` the plain URI has lost its prefix.
async fn not_found(OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::NotFound(format!("There is no recorder API at {}.", uri.path()))
}

async fn method_not_allowed(method: axum::http::Method, OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::MethodNotAllowed(format!("{} does not accept {method}.", uri.path()))
}
