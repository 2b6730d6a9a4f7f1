//! REST API `/api/v1/…` (the contract in DESIGN.md). Handlers are thin: the engine checks the
//! caller's rights and does the work.

use super::auth::AuthenticatedCaller as Auth;
use super::error::{ApiError, no_such_route};
use super::{AppState, events, openapi};
use app::auth::{Me, RequestInfo};
use app::cookies::{SESSION_COOKIE, cookie};
use app::model::{
    ApiToken, AuditEntry, AuditFilter, CachedSettingsView, CreatedToken, FailbackAnswer, Failover,
    FailoverDetail, FailoverFilter, FailoverGroup, GroupSettings, Licence, LicenceUpdate,
    NewServer, NewToken, NewUser, PasswordChange, Server, ServerPatch, User,
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
    let login = state.console.login(&credentials.username, &credentials.password, &request).await?;
    Ok((AppendHeaders([(SET_COOKIE, login.set_cookie)]), Json(login.me)))
}

async fn logout(
    State(state): State<AppState>,
    Auth(caller): Auth,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    let session = cookie(&headers, SESSION_COOKIE);
    let cleared = state.console.logout(&caller, session.as_deref()).await?;
    Ok((AppendHeaders([(SET_COOKIE, cleared)]), StatusCode::NO_CONTENT))
}

async fn me(Auth(caller): Auth) -> Json<Me> {
    Json(caller.me())
}

async fn list_servers(
    State(state): State<AppState>,
    Auth(caller): Auth,
) -> Result<Json<Vec<Server>>, ApiError> {
    Ok(Json(state.console.servers(&caller).await?))
}

async fn server(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Server>, ApiError> {
    Ok(Json(state.console.server(&caller, id).await?))
}

async fn add_server(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Body(new): Body<NewServer>,
) -> Result<(StatusCode, Json<Server>), ApiError> {
    Ok((StatusCode::CREATED, Json(state.console.add_server(&caller, new).await?)))
}

async fn edit_server(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<i64>,
    Body(patch): Body<ServerPatch>,
) -> Result<Json<Server>, ApiError> {
    Ok(Json(state.console.edit_server(&caller, id, patch).await?))
}

async fn users(
    State(state): State<AppState>,
    Auth(caller): Auth,
) -> Result<Json<Vec<User>>, ApiError> {
    Ok(Json(state.console.users(&caller).await?))
}

async fn add_user(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Body(new): Body<NewUser>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    let user = state.console.add_user(&caller, new).await?;
    Ok((StatusCode::CREATED, Json(user)))
}

async fn remove_user(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.console.remove_user(&caller, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn set_password(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(name): Path<String>,
    Body(change): Body<PasswordChange>,
) -> Result<StatusCode, ApiError> {
    state.console.set_password(&caller, &name, change).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn tokens(
    State(state): State<AppState>,
    Auth(caller): Auth,
) -> Result<Json<Vec<ApiToken>>, ApiError> {
    Ok(Json(state.console.tokens(&caller).await?))
}

async fn create_token(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Body(new): Body<NewToken>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    Ok((StatusCode::CREATED, Json(state.console.create_token(&caller, new).await?)))
}

async fn revoke_token(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<i64>,
) -> Result<Json<ApiToken>, ApiError> {
    Ok(Json(state.console.revoke_token(&caller, id).await?))
}

async fn audit(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Query(filter): Query<AuditFilter>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    Ok(Json(state.console.audit_trail(&caller, filter).await?))
}

async fn failovers(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Query(filter): Query<FailoverFilter>,
) -> Result<Json<Vec<Failover>>, ApiError> {
    Ok(Json(state.console.failover_log(&caller, filter).await?))
}

async fn failover(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<i64>,
) -> Result<Json<FailoverDetail>, ApiError> {
    Ok(Json(state.console.failover(&caller, id).await?))
}

async fn licence(
    State(state): State<AppState>,
    Auth(caller): Auth,
) -> Result<Json<Licence>, ApiError> {
    Ok(Json(state.console.licence(&caller).await?))
}

async fn set_licence(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Body(update): Body<LicenceUpdate>,
) -> Result<Json<Licence>, ApiError> {
    Ok(Json(state.console.set_licence(&caller, update).await?))
}

async fn groups(
    State(state): State<AppState>,
    Auth(caller): Auth,
) -> Result<Json<Vec<FailoverGroup>>, ApiError> {
    Ok(Json(state.console.groups(&caller).await?))
}

async fn add_group(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Body(group): Body<GroupSettings>,
) -> Result<(StatusCode, Json<FailoverGroup>), ApiError> {
    Ok((StatusCode::CREATED, Json(state.console.save_group(&caller, None, group).await?)))
}

async fn replace_group(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<i64>,
    Body(group): Body<GroupSettings>,
) -> Result<Json<FailoverGroup>, ApiError> {
    Ok(Json(state.console.save_group(&caller, Some(id), group).await?))
}

async fn delete_group(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    state.console.delete_group(&caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The recorder settings cache's copy of a server's settings bundle.
async fn cached_settings(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<i64>,
) -> Result<Json<CachedSettingsView>, ApiError> {
    Ok(Json(state.console.cached_settings(&caller, id).await?))
}

/// Manual failback: "Failback OK" with start time, end time and duration, or the refusal.
async fn failback(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<i64>,
) -> Result<Json<FailbackAnswer>, ApiError> {
    Ok(Json(state.console.failback(&caller, id).await?))
}

/// Start (or resume) material copying for a finalized entry.
async fn material_copy(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<i64>,
) -> Result<(StatusCode, Json<Failover>), ApiError> {
    Ok((StatusCode::ACCEPTED, Json(state.console.material_copy(&caller, id).await?)))
}
