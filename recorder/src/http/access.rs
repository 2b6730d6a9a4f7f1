//! Who may do what: every request but the open ones ([`OPEN`]) carries the agent's secret as a
//! bearer token, or a grant signed with it that covers the read (a peer pulling a failover
//! period). Refusals are 401 (no or a wrong credential) or 403 (a grant used beyond what it
//! covers); nothing is changed, and each source is logged once.

use super::params::{Params, RawQuery};
use crate::credential::{Credential, Presented, Refused};
use crate::error::ApiError;
use crate::time::parse_instant;
use agent_api::credential::{Grant, NewSecret, bearer, check_secret};
use agent_api::{ErrorBody, paths};
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::sync::Arc;

/// `GET`s anyone may make: the health the manager's monitor and load balancers read, and the
/// API's document.
pub const OPEN: [&str; 2] = [paths::HEALTH, paths::OPENAPI];

/// The channel services a grant can cover (`/api/v1/channels/{id}/<service>`).
const GRANTED_SERVICES: [&str; 4] = ["digest", "playback", "anpr", "alarms"];

/// Whether a path (or a documented path template) is one of the channel reads a grant covers.
pub fn granted_service(path: &str) -> bool {
    path.strip_prefix("/api/v1/channels/")
        .and_then(|rest| rest.split_once('/'))
        .is_some_and(|(_, service)| GRANTED_SERVICES.contains(&service))
}

pub async fn require(
    State(credential): State<Arc<Credential>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    // Open paths with any method: the router answers 405 to those it does not take.
    if OPEN.contains(&path) {
        return next.run(request).await;
    }
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(bearer);
    let refusal = match credential.check(token) {
        Ok(Presented::Secret) => return next.run(request).await,
        Ok(Presented::Grant(grant)) => match covers(&grant, &request) {
            Ok(()) => return next.run(request).await,
            Err(why) => ApiError::Forbidden(format!(
                "The grant for {} does not cover this request: {why}.",
                grant.recorder
            )),
        },
        Err(refused) => {
            let source = request
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(address)| address.ip());
            if source.is_none_or(|source| credential.first_refusal_from(source)) {
                tracing::warn!(
                    source = %source.map(|s| s.to_string()).unwrap_or_else(|| "unknown".into()),
                    method = %request.method(),
                    path,
                    reason = %refused,
                    "refused a request without a valid credential; later refusals from this source are not logged"
                );
            }
            ApiError::Unauthorized(match refused {
                Refused::Missing => {
                    "This recorder API needs the agent's secret as a bearer token.".into()
                }
                other => format!("The credential is refused: {other}."),
            })
        }
    };
    refusal.into_response()
}

/// Whether a grant covers the request: a GET of the channel list, or of one granted channel's
/// records over a period inside the grant's, of the source's own records.
fn covers(grant: &Grant, request: &Request) -> Result<(), String> {
    if request.method() != Method::GET {
        return Err("a grant only reads".into());
    }
    let path = request.uri().path();
    if path == paths::CHANNELS {
        return Ok(());
    }
    let Some((channel, _service)) = path
        .strip_prefix("/api/v1/channels/")
        .and_then(|rest| rest.split_once('/'))
        .filter(|(_, service)| GRANTED_SERVICES.contains(service))
    else {
        return Err("a grant reads only channels' records".into());
    };
    let query: RawQuery = Query::try_from_uri(request.uri());
    let pairs = match query {
        Ok(Query(pairs)) => Params::from_pairs(pairs),
        Err(_) => return Err("the query is malformed".into()),
    };
    let time = |name: &str| {
        pairs
            .get(name)
            .ok_or_else(|| format!("{name} is required"))
            .and_then(|text| parse_instant(text).map_err(|e| format!("{name}: {e}")))
    };
    let (from, to) = (time("from")?, time("to")?);
    let origin = pairs.get("origin").ok_or("origin is required")?;
    if grant.allows(channel, from, to, origin) {
        Ok(())
    } else {
        Err(format!("{channel} over that period of {origin}'s records is not granted"))
    }
}

/// Rotate the agent's secret
///
/// The new secret is written to the secret file before it is answered; the old one is still
/// accepted for ten minutes, so calls under way finish and nothing restarts. Only the secret
/// itself may rotate it, not a grant.
#[utoipa::path(put, path = paths::CREDENTIAL, tag = "agent",
    request_body = NewSecret,
    responses(
        (status = 204, description = "Rotated"),
        (status = 400, description = "Not a secret (at least 16 characters, no spaces or control characters)", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
    ))]
pub async fn rotate(
    State(credential): State<Arc<Credential>>,
    headers: HeaderMap,
    body: Result<Json<NewSecret>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let token =
        headers.get(header::AUTHORIZATION).and_then(|value| value.to_str().ok()).and_then(bearer);
    if credential.check(token) != Ok(Presented::Secret) {
        return Err(ApiError::Forbidden("Only the agent's secret can rotate it.".into()));
    }
    let Json(new) =
        body.map_err(|rejection| ApiError::invalid_field("body", rejection.body_text()))?;
    check_secret(&new.secret).map_err(|reason| ApiError::invalid_field("secret", reason))?;
    credential.rotate(&new.secret).map_err(ApiError::internal)?;
    tracing::info!(file = %credential.file().display(), "the secret was rotated; the previous one is accepted for ten more minutes");
    Ok(StatusCode::NO_CONTENT)
}
