//! REST API `/api/v1/…` (the contract in DESIGN.md). Handlers are thin: the engine checks the
//! caller's rights and does the work.

use super::auth::AuthenticatedCaller as Auth;
use super::error::{ApiError, no_such_route};
use super::{AppState, events, openapi};
use crate::auth::sessions::{SESSION_COOKIE, clear_cookie, cookie, set_cookie};
use app::auth::{Me, RequestInfo, Role};
use app::model::{
    ApiToken, AuditEntry, AuditFilter, CreatedToken, FailbackAnswer, Failover, FailoverDetail,
    FailoverFilter, FailoverGroup, GroupSettings, Licence, LicenceUpdate, NewServer, Server,
    ServerPatch, User,
};
use axum::extract::{Extension, FromRequest, FromRequestParts, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{AppendHeaders, IntoResponse};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
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

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/login", post(login))
        .route("/v1/logout", post(logout))
        .route("/v1/me", get(me))
        .route("/v1/servers", get(list_servers).post(add_server))
        .route("/v1/servers/{id}", get(server).patch(edit_server))
        .route("/v1/servers/{id}/settings", get(cached_settings))
        .route("/v1/users", get(users).post(add_user))
        .route("/v1/users/{name}", delete(remove_user))
        .route("/v1/users/{name}/password", post(set_password))
        .route("/v1/tokens", get(tokens).post(create_token))
        .route("/v1/tokens/{id}", delete(revoke_token))
        .route("/v1/audit", get(audit))
        .route("/v1/failovers", get(failovers))
        .route("/v1/failovers/{id}", get(failover))
        .route("/v1/failovers/{id}/failback", post(failback))
        .route("/v1/failovers/{id}/material-copy", post(material_copy))
        .route("/v1/license", get(licence).put(set_licence))
        .route("/v1/failover-groups", get(groups).post(add_group))
        .route("/v1/failover-groups/{id}", put(replace_group).delete(delete_group))
        .route("/v1/events", get(events::stream))
        .route("/v1/openapi.json", get(openapi::document))
        .fallback(no_such_route)
}

#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

async fn login(
    State(state): State<AppState>,
    Extension(request): Extension<RequestInfo>,
    Body(credentials): Body<Credentials>,
) -> Result<impl IntoResponse, ApiError> {
    let login =
        state.engine.login(&credentials.username, &credentials.password, request.address).await?;
    let cookie =
        set_cookie(SESSION_COOKIE, &login.secret, login.max_age.num_seconds(), request.secure);
    Ok((AppendHeaders([(SET_COOKIE, cookie)]), Json(login.caller.me())))
}

async fn logout(
    State(state): State<AppState>,
    Auth(caller): Auth,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    if let Some(secret) = cookie(&headers, SESSION_COOKIE) {
        state.engine.logout(&caller, &secret).await?;
    }
    Ok((AppendHeaders([(SET_COOKIE, clear_cookie(SESSION_COOKIE))]), StatusCode::NO_CONTENT))
}

async fn me(Auth(caller): Auth) -> Json<Me> {
    Json(caller.me())
}

async fn list_servers(
    State(state): State<AppState>,
    Auth(caller): Auth,
) -> Result<Json<Vec<Server>>, ApiError> {
    Ok(Json(state.engine.servers(&caller).await?))
}

async fn server(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Server>, ApiError> {
    Ok(Json(state.engine.server(&caller, id).await?))
}

async fn add_server(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Body(new): Body<NewServer>,
) -> Result<(StatusCode, Json<Server>), ApiError> {
    Ok((StatusCode::CREATED, Json(state.engine.add_server(&caller, new).await?)))
}

async fn edit_server(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<i64>,
    Body(patch): Body<ServerPatch>,
) -> Result<Json<Server>, ApiError> {
    Ok(Json(state.engine.edit_server(&caller, id, patch).await?))
}

#[derive(Deserialize)]
struct NewUser {
    name: String,
    password: String,
    role: Role,
}

async fn users(
    State(state): State<AppState>,
    Auth(caller): Auth,
) -> Result<Json<Vec<User>>, ApiError> {
    Ok(Json(state.engine.users(&caller).await?))
}

async fn add_user(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Body(new): Body<NewUser>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    let user = state.engine.add_user(&caller, &new.name, &new.password, new.role).await?;
    Ok((StatusCode::CREATED, Json(user)))
}

async fn remove_user(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.engine.remove_user(&caller, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct NewPassword {
    password: String,
}

async fn set_password(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(name): Path<String>,
    Body(new): Body<NewPassword>,
) -> Result<StatusCode, ApiError> {
    state.engine.set_password(&caller, &name, &new.password).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct NewToken {
    name: String,
    role: Role,
}

async fn tokens(
    State(state): State<AppState>,
    Auth(caller): Auth,
) -> Result<Json<Vec<ApiToken>>, ApiError> {
    Ok(Json(state.engine.tokens(&caller).await?))
}

async fn create_token(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Body(new): Body<NewToken>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    Ok((StatusCode::CREATED, Json(state.engine.create_token(&caller, &new.name, new.role).await?)))
}

async fn revoke_token(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<i64>,
) -> Result<Json<ApiToken>, ApiError> {
    Ok(Json(state.engine.revoke_token(&caller, id).await?))
}

async fn audit(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Query(filter): Query<AuditFilter>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    Ok(Json(state.engine.audit_trail(&caller, &filter).await?))
}

async fn failovers(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Query(filter): Query<FailoverFilter>,
) -> Result<Json<Vec<Failover>>, ApiError> {
    Ok(Json(state.engine.failover_log(&caller, &filter).await?))
}

async fn failover(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<i64>,
) -> Result<Json<FailoverDetail>, ApiError> {
    Ok(Json(state.engine.failover_detail(&caller, id).await?))
}

async fn licence(
    State(state): State<AppState>,
    Auth(caller): Auth,
) -> Result<Json<Licence>, ApiError> {
    Ok(Json(state.engine.licence(&caller).await?))
}

async fn set_licence(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Body(update): Body<LicenceUpdate>,
) -> Result<Json<Licence>, ApiError> {
    Ok(Json(state.engine.set_licence(&caller, update).await?))
}

async fn groups(
    State(state): State<AppState>,
    Auth(caller): Auth,
) -> Result<Json<Vec<FailoverGroup>>, ApiError> {
    Ok(Json(state.engine.groups(&caller).await?))
}

async fn add_group(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Body(group): Body<GroupSettings>,
) -> Result<(StatusCode, Json<FailoverGroup>), ApiError> {
    Ok((StatusCode::CREATED, Json(state.engine.save_group(&caller, None, group).await?)))
}

async fn replace_group(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<i64>,
    Body(group): Body<GroupSettings>,
) -> Result<Json<FailoverGroup>, ApiError> {
    Ok(Json(state.engine.save_group(&caller, Some(id), group).await?))
}

async fn delete_group(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    state.engine.delete_group(&caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The recorder settings cache's copy of a server's settings bundle.
async fn cached_settings(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<i64>,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(state.engine.cached_settings(&caller, id).await?))
}

/// Manual failback: "Failback OK" with start time, end time and duration, or the refusal.
async fn failback(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<i64>,
) -> Result<Json<FailbackAnswer>, ApiError> {
    Ok(Json(state.engine.manual_failback(&caller, id).await?))
}

/// Start (or resume) material copying for a finalized entry.
async fn material_copy(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<i64>,
) -> Result<(StatusCode, Json<Failover>), ApiError> {
    Ok((StatusCode::ACCEPTED, Json(state.engine.start_material_copy(&caller, id).await?)))
}
