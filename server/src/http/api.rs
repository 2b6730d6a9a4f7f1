//! REST API `/api/v1/…` (the contract in DESIGN.md). Handlers are thin: they call the one door
//! ([`app::port::Console`]), which checks the caller's rights, audits and does the work. Each
//! handler carries its OpenAPI operation, and routes reach the router only with it (see
//! [`super::documented`]).

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::identify::AuthenticatedCaller as Auth;
use app::cookies::{SESSION_COOKIE, cookie};
use app::drill::{Drill, NewDrill};
use app::evidence::ChannelEvidence;
use app::model::{
    ApiToken, AuditEntry, AuditFilter, CachedSettingsView, CreatedToken, FailbackAnswer, Failover,
    FailoverDetail, FailoverFilter, FailoverGroup, GroupSettings, Licence, LicenceUpdate,
    NewServer, NewToken, NewUser, PasswordChange, Server, ServerPatch, User,
};
use app::rights::{Me, RequestInfo};
use axum::Json;
use axum::extract::{Extension, FromRequest, FromRequestParts, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{AppendHeaders, IntoResponse};
use serde::Deserialize;

/// JSON in, with rejections turned into the contract's error shape.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Body<T>(pub T);

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    username: String,
    password: String,
}

/// Log in: sets the session cookie (HttpOnly, SameSite=Lax)
#[utoipa::path(post, path = "/api/v1/login", tag = "session", security(()),
    request_body = Credentials,
    responses(
        (status = 200, description = "The user; the cookie is in Set-Cookie", body = Me),
        (status = 400, description = "Not a valid body", body = ErrorBody),
        (status = 401, description = "Unknown user name or wrong password", body = ErrorBody),
        (status = 415, description = "Not sent as application/json", body = ErrorBody),
        (status = 429, description = "Too many failed logins: wait as long as Retry-After says", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait before the next attempt"))),
    ))]
pub async fn login(
    State(state): State<AppState>,
    Extension(request): Extension<RequestInfo>,
    Body(credentials): Body<Credentials>,
) -> Result<impl IntoResponse, ApiError> {
    let login = state.console.login(&credentials.username, &credentials.password, &request).await?;
    Ok((AppendHeaders([(SET_COOKIE, login.set_cookie)]), Json(login.me)))
}

/// Log out: ends the session (and its event streams), clears the session and token cookies
///
/// No body needed.
#[utoipa::path(post, path = "/api/v1/logout", tag = "session",
    responses(
        (status = 204, description = "Logged out"),
        (status = 401, description = "Not logged in", body = ErrorBody),
    ))]
pub async fn logout(
    State(state): State<AppState>,
    Auth(caller): Auth,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    let session = cookie(&headers, SESSION_COOKIE);
    let cleared = state.console.logout(&caller, session.as_deref()).await?;
    let cleared = cleared.into_iter().map(|cookie| (SET_COOKIE, cookie));
    Ok((AppendHeaders(cleared), StatusCode::NO_CONTENT))
}

/// Who is calling
#[utoipa::path(get, path = "/api/v1/me", tag = "session",
    responses(
        (status = 200, description = "The caller", body = Me),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "A metrics-scoped token", body = ErrorBody),
    ))]
pub async fn me(Auth(caller): Auth) -> Result<Json<Me>, ApiError> {
    // Like every read: a metrics-scoped token is refused here too.
    caller.require(app::rights::Right::Read)?;
    Ok(Json(caller.me()))
}

/// Every recording server and failover server with its live state
#[utoipa::path(get, path = "/api/v1/servers", tag = "servers",
    responses(
        (status = 200, description = "Servers", body = [Server]),
        (status = 401, description = "Not logged in", body = ErrorBody),
    ))]
pub async fn list_servers(
    State(state): State<AppState>,
    Auth(caller): Auth,
) -> Result<Json<Vec<Server>>, ApiError> {
    Ok(Json(state.console.servers(&caller).await?))
}

/// One server
#[utoipa::path(get, path = "/api/v1/servers/{id}", tag = "servers",
    params(("id" = i64, Path, description = "Server id")),
    responses(
        (status = 200, description = "Server", body = Server),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 404, description = "No such server", body = ErrorBody),
    ))]
pub async fn server(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Server>, ApiError> {
    Ok(Json(state.console.server(&caller, id).await?))
}

/// Register a server (admin)
#[utoipa::path(post, path = "/api/v1/servers", tag = "servers",
    request_body = NewServer,
    responses(
        (status = 201, description = "Added", body = Server),
        (status = 400, description = "A field is not valid; the message names it", body = ErrorBody),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 409, description = "`duplicate_name`", body = ErrorBody),
    ))]
pub async fn add_server(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Body(new): Body<NewServer>,
) -> Result<(StatusCode, Json<Server>), ApiError> {
    Ok((StatusCode::CREATED, Json(state.console.add_server(&caller, new).await?)))
}

/// Change a server's settings; only the fields sent change
///
/// Maintenance mode alone is an operator's switch; every other field an administrator's.
#[utoipa::path(patch, path = "/api/v1/servers/{id}", tag = "servers",
    params(("id" = i64, Path, description = "Server id")),
    request_body = ServerPatch,
    responses(
        (status = 200, description = "Changed", body = Server),
        (status = 400, description = "A field is not valid", body = ErrorBody),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Lacking the right", body = ErrorBody),
        (status = 404, description = "No such server", body = ErrorBody),
        (status = 409, description = "`duplicate_name`", body = ErrorBody),
    ))]
pub async fn edit_server(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<i64>,
    Body(patch): Body<ServerPatch>,
) -> Result<Json<Server>, ApiError> {
    Ok(Json(state.console.edit_server(&caller, id, patch).await?))
}

/// Remove a server (admin); refused with 409 `in_failover` while a failover involves it
///
/// The failover log keeps naming it; adding a server of that name again brings it back.
#[utoipa::path(delete, path = "/api/v1/servers/{id}", tag = "servers",
    params(("id" = i64, Path, description = "Server id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 404, description = "No such server", body = ErrorBody),
        (status = 409, description = "`in_failover`", body = ErrorBody),
    ))]
pub async fn remove_server(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    state.console.remove_server(&caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The recorder settings cache's copy of a server's settings bundle
#[utoipa::path(get, path = "/api/v1/servers/{id}/settings", tag = "servers",
    params(("id" = i64, Path, description = "Server id")),
    responses(
        (status = 200, description = "Cached settings", body = CachedSettingsView),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 404, description = "Not read from that server yet", body = ErrorBody),
    ))]
pub async fn cached_settings(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<i64>,
) -> Result<Json<CachedSettingsView>, ApiError> {
    Ok(Json(state.console.cached_settings(&caller, id).await?))
}

/// Users (admin)
#[utoipa::path(get, path = "/api/v1/users", tag = "users",
    responses(
        (status = 200, description = "Users", body = [User]),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
    ))]
pub async fn users(
    State(state): State<AppState>,
    Auth(caller): Auth,
) -> Result<Json<Vec<User>>, ApiError> {
    Ok(Json(state.console.users(&caller).await?))
}

/// Add a user (admin)
#[utoipa::path(post, path = "/api/v1/users", tag = "users",
    request_body = NewUser,
    responses(
        (status = 201, description = "Added", body = User),
        (status = 400, description = "A field is not valid", body = ErrorBody),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 409, description = "`duplicate_name`", body = ErrorBody),
    ))]
pub async fn add_user(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Body(new): Body<NewUser>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    Ok((StatusCode::CREATED, Json(state.console.add_user(&caller, new).await?)))
}

/// Remove a user (admin); their sessions and event streams end
///
/// The last administrator cannot be removed (409 `last_admin`).
#[utoipa::path(delete, path = "/api/v1/users/{name}", tag = "users",
    params(("name" = String, Path, description = "User name")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 409, description = "`last_admin`", body = ErrorBody),
    ))]
pub async fn remove_user(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.console.remove_user(&caller, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Set a password (admin, or the user for themself); ends the user's sessions
///
/// Changing one's own password (logged in with a session) needs `current_password`; an
/// administrator setting someone else's does not.
#[utoipa::path(post, path = "/api/v1/users/{name}/password", tag = "users",
    params(("name" = String, Path, description = "User name")),
    request_body = PasswordChange,
    responses(
        (status = 204, description = "Changed"),
        (status = 400, description = "Too short, or `invalid_current_password` (missing)", body = ErrorBody),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Someone else's password without the right, or `wrong_current_password`", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
    ))]
pub async fn set_password(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(name): Path<String>,
    Body(change): Body<PasswordChange>,
) -> Result<StatusCode, ApiError> {
    state.console.set_password(&caller, &name, change).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// API tokens (admin)
#[utoipa::path(get, path = "/api/v1/tokens", tag = "users",
    responses(
        (status = 200, description = "Tokens", body = [ApiToken]),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
    ))]
pub async fn tokens(
    State(state): State<AppState>,
    Auth(caller): Auth,
) -> Result<Json<Vec<ApiToken>>, ApiError> {
    Ok(Json(state.console.tokens(&caller).await?))
}

/// Create an API token (admin); the secret is in this answer only
///
/// `scope: "metrics"` makes a token for a Prometheus scraper: it reads `GET /metrics` and
/// gets 403 everywhere else.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "users",
    request_body = NewToken,
    responses(
        (status = 201, description = "Created", body = CreatedToken),
        (status = 400, description = "A field is not valid", body = ErrorBody),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 409, description = "`duplicate_name`", body = ErrorBody),
    ))]
pub async fn create_token(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Body(new): Body<NewToken>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    Ok((StatusCode::CREATED, Json(state.console.create_token(&caller, new).await?)))
}

/// Revoke a token (admin): it stops working at once, and its event streams end
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "users",
    params(("id" = i64, Path, description = "Token id")),
    responses(
        (status = 200, description = "The revoked token", body = ApiToken),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 404, description = "No such token", body = ErrorBody),
    ))]
pub async fn revoke_token(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<i64>,
) -> Result<Json<ApiToken>, ApiError> {
    Ok(Json(state.console.revoke_token(&caller, id).await?))
}

/// The managers on the site's database, oldest first
///
/// Exactly one leads: it alone watches the recorders and fails over and back on its own. On
/// SQLite there is exactly one manager. `epoch` and `leader_since` are the leader's term.
#[utoipa::path(get, path = "/api/v1/managers", tag = "managers",
    responses(
        (status = 200, description = "Managers", body = [app::model::Manager]),
        (status = 401, description = "Not logged in", body = ErrorBody),
    ))]
pub async fn managers(
    State(state): State<AppState>,
    Auth(caller): Auth,
) -> Result<Json<Vec<app::model::Manager>>, ApiError> {
    Ok(Json(state.console.managers(&caller).await?.list))
}

/// Would a failover of each recorder succeed now?
///
/// For every recorder, by name: `covered` when a failover now would succeed (failover
/// monitoring on, not in maintenance, a free licence slot, its settings cached and current, a
/// free reachable failover server of its group that can carry it); otherwise each reason as a
/// code and a sentence naming the cause, in the order failover checks them.
#[utoipa::path(get, path = "/api/v1/readiness", tag = "servers",
    responses(
        (status = 200, description = "Every recorder's readiness", body = [app::model::Readiness]),
        (status = 401, description = "Not logged in", body = ErrorBody),
    ))]
pub async fn readiness(
    State(state): State<AppState>,
    Auth(caller): Auth,
) -> Result<Json<Vec<app::model::Readiness>>, ApiError> {
    Ok(Json(state.console.readiness(&caller).await?))
}

/// The audit trail, newest first
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit",
    params(AuditFilter),
    responses(
        (status = 200, description = "Lines", body = [AuditEntry]),
        (status = 400, description = "A parameter is not valid", body = ErrorBody),
        (status = 401, description = "Not logged in", body = ErrorBody),
    ))]
pub async fn audit(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Query(filter): Query<AuditFilter>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    Ok(Json(state.console.audit_trail(&caller, filter).await?))
}

/// The failover log, newest first
///
/// `state=active` lists Active Failovers (failing over, active, failing back); `state=finalized`
/// the Finalized Failovers (finalized, failed).
#[utoipa::path(get, path = "/api/v1/failovers", tag = "failover log",
    params(FailoverFilter),
    responses(
        (status = 200, description = "Entries", body = [Failover]),
        (status = 400, description = "A parameter is not valid", body = ErrorBody),
        (status = 401, description = "Not logged in", body = ErrorBody),
    ))]
pub async fn failovers(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Query(filter): Query<FailoverFilter>,
) -> Result<Json<Vec<Failover>>, ApiError> {
    Ok(Json(state.console.failover_log(&caller, filter).await?))
}

/// One entry with its material-copy progress per channel and what happened on the way
#[utoipa::path(get, path = "/api/v1/failovers/{id}", tag = "failover log",
    params(("id" = i64, Path, description = "Failover log entry id")),
    responses(
        (status = 200, description = "The entry", body = FailoverDetail),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 404, description = "No such entry", body = ErrorBody),
    ))]
pub async fn failover(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<i64>,
) -> Result<Json<FailoverDetail>, ApiError> {
    Ok(Json(state.console.failover(&caller, id).await?))
}

/// The evidence timeline: per channel of the entry's recorder, where each stretch of the failover
/// period lives now
///
/// From 10 s before the failover to 10 s after the failback (or to a second ago while it goes
/// on), in time order without overlap: `where` is `recorder` (recorded there), `copied` (copied
/// to the recorder from `server`), `failover_server` (only on `server`, not copied yet) or
/// `missing` (a gap: nothing that answered holds it). A server that did not answer is listed in
/// `unanswered` with why; a stretch shown missing may then be on it.
#[utoipa::path(get, path = "/api/v1/failovers/{id}/coverage", tag = "failover log",
    params(("id" = i64, Path, description = "Failover log entry id")),
    responses(
        (status = 200, description = "One item per channel", body = [ChannelEvidence]),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 404, description = "No such entry", body = ErrorBody),
        (status = 409, description = "`no_settings`: the recorder's channels are not known", body = ErrorBody),
    ))]
pub async fn failover_coverage(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Vec<ChannelEvidence>>, ApiError> {
    Ok(Json(state.console.failover_coverage(&caller, id).await?))
}

/// The evidence timeline as CSV: a line per stretch (`channel,kind,from,to,seconds,where,server`)
#[utoipa::path(get, path = "/api/v1/failovers/{id}/coverage.csv", tag = "failover log",
    params(("id" = i64, Path, description = "Failover log entry id")),
    responses(
        (status = 200, description = "CSV (RFC 4180)", content_type = "text/csv", body = String),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 404, description = "No such entry", body = ErrorBody),
        (status = 409, description = "`no_settings`: the recorder's channels are not known", body = ErrorBody),
    ))]
pub async fn failover_coverage_csv(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse, ApiError> {
    let channels = state.console.failover_coverage(&caller, id).await?;
    let disposition = format!("attachment; filename=\"failover-{id}-coverage.csv\"");
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (axum::http::header::CONTENT_DISPOSITION, disposition),
        ],
        app::evidence::csv(&channels),
    ))
}

/// Manual failback (operator or admin)
///
/// No body needed (or `{}` as application/json). Refusals are 409 with the failed
/// check's code: failover_not_performed, failback_already_performed,
/// failover_server_wrong_state, server_wrong_state, no_recorder_connection, no_license,
/// failback_in_progress.
#[utoipa::path(post, path = "/api/v1/failovers/{id}/failback", tag = "failover log",
    params(("id" = i64, Path, description = "Failover log entry id")),
    responses(
        (status = 200, description = "Failback OK, with its start time, end time and duration", body = FailbackAnswer),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "A viewer", body = ErrorBody),
        (status = 404, description = "No such entry", body = ErrorBody),
        (status = 409, description = "Refused: the code names the failed check", body = ErrorBody),
    ))]
pub async fn failback(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<i64>,
) -> Result<Json<FailbackAnswer>, ApiError> {
    Ok(Json(state.console.failback(&caller, id).await?))
}

/// Restore the recorder of an active failover whose failover server is gone (operator or admin)
///
/// The way out when failback is refused because the failover server is no longer acting: the
/// repaired recorder gets its settings from the cache and records for itself again; the entry
/// is finalized as `restored`, and what the lost failover server recorded is copied once it is
/// back. No body needed (or `{}` as application/json). Refusals are 409 with the failed
/// check's code: failover_not_performed, failback_already_performed,
/// failover_server_still_acting (fail back instead), server_wrong_state,
/// no_recorder_connection, failback_in_progress.
#[utoipa::path(post, path = "/api/v1/failovers/{id}/restore", tag = "failover log",
    params(("id" = i64, Path, description = "Failover log entry id")),
    responses(
        (status = 200, description = "Restored, with its start time, end time and duration", body = FailbackAnswer),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "A viewer", body = ErrorBody),
        (status = 404, description = "No such entry", body = ErrorBody),
        (status = 409, description = "Refused: the code names the failed check", body = ErrorBody),
    ))]
pub async fn restore(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<i64>,
) -> Result<Json<FailbackAnswer>, ApiError> {
    Ok(Json(state.console.restore(&caller, id).await?))
}

/// Start (or resume, or retry) material copying of a finalized entry (operator or admin)
///
/// No body needed (or `{}` as application/json).
#[utoipa::path(post, path = "/api/v1/failovers/{id}/material-copy", tag = "failover log",
    params(("id" = i64, Path, description = "Failover log entry id")),
    responses(
        (status = 202, description = "Queued: the entry with its copy progress", body = Failover),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "A viewer", body = ErrorBody),
        (status = 404, description = "No such entry", body = ErrorBody),
        (status = 409, description = "`failback_not_performed` or `already_copied`", body = ErrorBody),
    ))]
pub async fn material_copy(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<i64>,
) -> Result<(StatusCode, Json<Failover>), ApiError> {
    Ok((StatusCode::ACCEPTED, Json(state.console.material_copy(&caller, id).await?)))
}

/// Start a drill of a recorder (administrator)
///
/// A test failover that leaves the recorder undisturbed: the failover server a failover would
/// choose records the recorder's channels beside it for `seconds` (default 10, 2 to 300);
/// Standby checks that material arrives and that the recorder kept recording, stops the failover
/// server and removes what it recorded. The body may be empty. The answer is the drill as it
/// stands: `running`, or `failed` at `readiness` when a failover would not succeed now (the
/// message says why); its end comes as a `drill_changed` event and in `GET /api/v1/drills`. A
/// real failure during a drill cancels it. Refusals (409): `not_a_recorder`, `not_leader`,
/// `drill_running`, `recorder_not_recording`.
#[utoipa::path(post, path = "/api/v1/servers/{id}/drill", tag = "drills",
    params(("id" = i64, Path, description = "The recorder's server id")),
    request_body(content = Option<NewDrill>, description = "Optional", content_type = "application/json"),
    responses(
        (status = 202, description = "Started (or already failed at its first step)", body = Drill),
        (status = 400, description = "Not a valid body, or seconds out of bounds", body = ErrorBody),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 404, description = "No such server", body = ErrorBody),
        (status = 409, description = "Refused: the code says why", body = ErrorBody),
    ))]
pub async fn start_drill(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Drill>), ApiError> {
    let new = if body.iter().all(u8::is_ascii_whitespace) {
        NewDrill::default()
    } else {
        serde_json::from_slice::<Option<NewDrill>>(&body).map(Option::unwrap_or_default).map_err(
            |error| {
                ApiError(app::failure::Failure::new(
                    app::failure::FailureKind::BadInput,
                    "invalid_body",
                    format!("The request body is not valid: {error}"),
                ))
            },
        )?
    };
    Ok((StatusCode::ACCEPTED, Json(state.console.start_drill(&caller, id, new).await?)))
}

/// The drill log, newest first (the latest 200)
#[utoipa::path(get, path = "/api/v1/drills", tag = "drills",
    responses(
        (status = 200, description = "Drills", body = [Drill]),
        (status = 401, description = "Not logged in", body = ErrorBody),
    ))]
pub async fn drills(
    State(state): State<AppState>,
    Auth(caller): Auth,
) -> Result<Json<Vec<Drill>>, ApiError> {
    Ok(Json(state.console.drills(&caller).await?))
}

/// One drill
#[utoipa::path(get, path = "/api/v1/drills/{id}", tag = "drills",
    params(("id" = i64, Path, description = "Drill id")),
    responses(
        (status = 200, description = "The drill", body = Drill),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 404, description = "No such drill", body = ErrorBody),
    ))]
pub async fn drill(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Drill>, ApiError> {
    Ok(Json(state.console.drill(&caller, id).await?))
}

/// The licence
#[utoipa::path(get, path = "/api/v1/license", tag = "licence",
    responses(
        (status = 200, description = "Licence", body = Licence),
        (status = 401, description = "Not logged in", body = ErrorBody),
    ))]
pub async fn licence(
    State(state): State<AppState>,
    Auth(caller): Auth,
) -> Result<Json<Licence>, ApiError> {
    Ok(Json(state.console.licence(&caller).await?))
}

/// Set the licence (admin)
#[utoipa::path(put, path = "/api/v1/license", tag = "licence",
    request_body = LicenceUpdate,
    responses(
        (status = 200, description = "Licence", body = Licence),
        (status = 400, description = "A field is not valid", body = ErrorBody),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
    ))]
pub async fn set_licence(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Body(update): Body<LicenceUpdate>,
) -> Result<Json<Licence>, ApiError> {
    Ok(Json(state.console.set_licence(&caller, update).await?))
}

/// Failover groups
#[utoipa::path(get, path = "/api/v1/failover-groups", tag = "servers",
    responses(
        (status = 200, description = "Groups", body = [FailoverGroup]),
        (status = 401, description = "Not logged in", body = ErrorBody),
    ))]
pub async fn groups(
    State(state): State<AppState>,
    Auth(caller): Auth,
) -> Result<Json<Vec<FailoverGroup>>, ApiError> {
    Ok(Json(state.console.groups(&caller).await?))
}

/// Create a failover group (admin)
#[utoipa::path(post, path = "/api/v1/failover-groups", tag = "servers",
    request_body = GroupSettings,
    responses(
        (status = 201, description = "Created", body = FailoverGroup),
        (status = 400, description = "A field is not valid", body = ErrorBody),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 409, description = "`duplicate_name` or `member_of_another_group`", body = ErrorBody),
    ))]
pub async fn add_group(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Body(group): Body<GroupSettings>,
) -> Result<(StatusCode, Json<FailoverGroup>), ApiError> {
    Ok((StatusCode::CREATED, Json(state.console.save_group(&caller, None, group).await?)))
}

/// Replace a failover group (admin)
#[utoipa::path(put, path = "/api/v1/failover-groups/{id}", tag = "servers",
    params(("id" = i64, Path, description = "Group id")),
    request_body = GroupSettings,
    responses(
        (status = 200, description = "Group", body = FailoverGroup),
        (status = 400, description = "A field is not valid", body = ErrorBody),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 404, description = "No such group", body = ErrorBody),
        (status = 409, description = "`duplicate_name` or `member_of_another_group`", body = ErrorBody),
    ))]
pub async fn replace_group(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<i64>,
    Body(group): Body<GroupSettings>,
) -> Result<Json<FailoverGroup>, ApiError> {
    Ok(Json(state.console.save_group(&caller, Some(id), group).await?))
}

/// Delete a failover group (admin)
#[utoipa::path(delete, path = "/api/v1/failover-groups/{id}", tag = "servers",
    params(("id" = i64, Path, description = "Group id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 404, description = "No such group", body = ErrorBody),
    ))]
pub async fn delete_group(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    state.console.delete_group(&caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
