//! REST API `/api/v1/…` (the contract in DESIGN.md).

use super::error::{ApiError, no_such_route};
use super::{AppState, events, openapi};
use app::model::{NewServer, Server, ServerPatch};
use axum::extract::{FromRequest, FromRequestParts, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};

/// JSON in, with rejections turned into the contract's error shape.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Body<T>(pub T);

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/servers", get(list_servers).post(add_server))
        .route("/v1/servers/{id}", get(server).patch(edit_server))
        .route("/v1/events", get(events::stream))
        .route("/v1/openapi.json", get(openapi::document))
        .fallback(no_such_route)
}

async fn list_servers(State(state): State<AppState>) -> Result<Json<Vec<Server>>, ApiError> {
    Ok(Json(state.engine.servers().await?))
}

async fn server(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Server>, ApiError> {
    Ok(Json(state.engine.server(id).await?))
}

async fn add_server(
    State(state): State<AppState>,
    Body(new): Body<NewServer>,
) -> Result<(StatusCode, Json<Server>), ApiError> {
    Ok((StatusCode::CREATED, Json(state.engine.add_server(new).await?)))
}

async fn edit_server(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Body(patch): Body<ServerPatch>,
) -> Result<Json<Server>, ApiError> {
    Ok(Json(state.engine.edit_server(id, patch).await?))
}
