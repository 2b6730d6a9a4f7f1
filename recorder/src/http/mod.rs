//! The recorder API's routes. Handlers are thin: parse and check the request, call the agent,
//! the archive or the copy service, map errors to [`ApiError`]. Each route is registered together
//! with its OpenAPI operation (see [`documented`]), and the document is served at
//! `GET /api/v1/openapi.json`; `recorder/API.md` explains it in prose.

mod access;
mod agent;
mod documented;
mod epoch;
mod params;
mod records;
#[cfg(test)]
mod tests;

use crate::agent::{Agent, AgentError};
use crate::archive::ArchiveError;
use crate::copy::{CopyService, handlers as copy_tasks};
use crate::credential::Credential;
use crate::error::ApiError;
use crate::ingest::IngestError;
use agent_api::{InvalidSettings, paths};
use axum::extract::{DefaultBodyLimit, FromRef, OriginalUri, State};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use documented::DocumentedRouter;
use std::sync::Arc;
use utoipa::OpenApi;
use utoipa_axum::router::UtoipaMethodRouterExt;
use utoipa_axum::routes;

/// Settings bodies may carry several configuration files of up to 1 MiB each.
const SETTINGS_BODY_LIMIT: usize = 16 * 1024 * 1024;

/// The agent and the copy-task service side by side: each route takes the part it serves.
#[derive(Clone, FromRef)]
struct ApiState {
    agent: Arc<Agent>,
    copies: CopyService,
    credential: Arc<Credential>,
    stopping: Stopping,
    document: Document,
}

/// Set when the agent is asked to stop: endless responses (health streams) end, so the
/// connections close and the manager learns of the stop at once.
#[derive(Clone)]
pub struct Stopping(pub tokio::sync::watch::Receiver<bool>);

impl Stopping {
    pub async fn wait(mut self) {
        let _ = self.0.wait_for(|stopping| *stopping).await;
    }
}

/// The OpenAPI document of the routes being served.
#[derive(Clone)]
struct Document(Arc<utoipa::openapi::OpenApi>);

#[derive(OpenApi)]
#[openapi(info(
    title = "Standby recorder agent API",
    version = "1",
    description = "The API of `standby-recorder`, the reference recording server, generated from \
        its routes. Errors are `{error, message[, field]}` with a 4xx/5xx status. Times are \
        RFC 3339; the agent answers in UTC with microseconds. Every endpoint needs the agent's \
        secret as a bearer token (`Authorization: Bearer <DATA_DIR/secret>`), except the two \
        marked open (health and this document); the channel reads a material copy makes also \
        accept a grant the manager signed with the secret (`sg1.…`), within the channels and \
        period it names. 401: no or a wrong credential; 403: a grant used beyond what it \
        covers. See recorder/API.md."
))]
struct Info;

/// Every route of the API with its documentation, without state or fallbacks.
fn documented() -> (Router<ApiState>, utoipa::openapi::OpenApi) {
    DocumentedRouter::new(Info::openapi())
        .with(routes!(agent::health))
        .with(routes!(agent::health_stream))
        .with(routes!(openapi))
        .with(routes!(agent::get_settings, agent::put_settings))
        .with(routes!(agent::get_acting, agent::put_acting, agent::delete_acting))
        .with(routes!(agent::channels))
        .with(routes!(records::channel_digest))
        .with(routes!(records::channel_coverage))
        .with(routes!(records::channel_playback))
        .with(
            routes!(records::channel_ingest, records::remove_records)
                .layer(DefaultBodyLimit::disable()),
        )
        .with(routes!(records::anpr_search))
        .with(routes!(records::alarm_search))
        .with(routes!(copy_tasks::list, copy_tasks::start))
        .with(routes!(copy_tasks::one))
        .with(routes!(copy_tasks::client_info))
        .with(routes!(access::rotate))
        .split()
}

/// The bearer scheme on every operation but the open ones.
fn secure(document: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::security::{
        HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
    };
    let scheme = HttpBuilder::new()
        .scheme(HttpAuthScheme::Bearer)
        .description(Some(
            "The agent's secret (`DATA_DIR/secret` or `--secret-file`), or for \
            the channel reads of a material copy a grant signed with it.",
        ))
        .build();
    document
        .components
        .get_or_insert_with(Default::default)
        .add_security_scheme("agent_secret", SecurityScheme::Http(scheme));
    document.security = Some(vec![SecurityRequirement::new("agent_secret", Vec::<String>::new())]);
    for (path, item) in document.paths.paths.iter_mut() {
        if let Some(get) = item.get.as_mut()
            && access::OPEN.contains(&path.as_str())
        {
            get.security = Some(vec![SecurityRequirement::default()]);
        }
    }
    use agent_api::openapi::{document_refusal, is_open};
    let unauthorized = "No credential, or a wrong one: nothing was read or changed";
    document_refusal(document, "401", unauthorized, |_, _, operation| !is_open(operation));
    let forbidden = "A grant used beyond the channels or the period it covers";
    document_refusal(document, "403", forbidden, |method, path, _| {
        method == "get" && access::granted_service(path)
    });
    let stale = "A command that carries an older `standby-epoch` than this agent has seen: it \
        comes from a manager whose leadership term has ended, and nothing was changed";
    document_refusal(document, "409", stale, |method, _, _| method != "get");
}

/// The API, every request checked by [`access::require`] (unknown paths too, so that
/// nothing answers a caller without a credential but the open endpoints).
pub fn router(
    agent: Arc<Agent>,
    copies: CopyService,
    credential: Arc<Credential>,
    stopping: Stopping,
) -> Router {
    let (routes, mut document) = documented();
    secure(&mut document);
    let state = ApiState {
        agent,
        copies,
        credential: credential.clone(),
        stopping,
        document: Document(Arc::new(document)),
    };
    routes
        .layer(DefaultBodyLimit::max(SETTINGS_BODY_LIMIT))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(epoch::Highest::default(), epoch::fence))
        .layer(axum::middleware::from_fn_with_state(credential, access::require))
        .with_state(state)
}

/// This document (OpenAPI 3.1), generated from the routes
#[utoipa::path(get, path = paths::OPENAPI, tag = "agent",
    responses((status = 200, description = "OK", content_type = "application/json")))]
async fn openapi(State(Document(document)): State<Document>) -> Response {
    Json(document.as_ref()).into_response()
}

impl From<AgentError> for ApiError {
    fn from(error: AgentError) -> Self {
        match error {
            AgentError::Invalid(invalid) => invalid.into(),
            AgentError::Conflict(message) => ApiError::Conflict(message),
            AgentError::Archive(error) => error.into(),
            AgentError::Io { context, source }
                if source.kind() == std::io::ErrorKind::StorageFull =>
            {
                // Not a fault the caller can fix, but one its operator can: said plainly.
                tracing::error!(%context, "the disk is full");
                ApiError::Internal(format!(
                    "The recorder's disk is full ({context}); nothing was changed."
                ))
            }
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

async fn not_found(OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::NotFound(format!("There is no recorder API at {}.", uri.path()))
}

async fn method_not_allowed(method: axum::http::Method, OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::MethodNotAllowed(format!("{} does not accept {method}.", uri.path()))
}
