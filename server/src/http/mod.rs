//! The manager's HTTP surface: REST API, event stream, server functions and pages.

mod api;
mod error;
mod events;
mod export;
mod headers;
mod identify;
mod metrics;
mod openapi;

use app::port::{Console, ConsoleHandle};
use axum::Router;
use axum::extract::FromRef;
use axum::routing::any;
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use std::sync::Arc;
use tower_http::trace::TraceLayer;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos: LeptosOptions,
    /// The one door into the engine.
    pub console: Arc<dyn Console>,
    /// Cancelled when the manager shuts down.
    pub stop: tokio_util::sync::CancellationToken,
}

pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(app::App);
    let console = ConsoleHandle(state.console.clone());
    let options = state.leptos.clone();
    let (documented, _document) = openapi::routes();
    documented
        // The API's bodies are small; a larger one is a 413 with the JSON error body.
        .layer(axum::extract::DefaultBodyLimit::max(error::MAX_BODY_BYTES))
        // Unknown routes under /api/ answer in JSON too.
        .route("/api/{*rest}", any(error::no_such_route))
        .route(app::screens::LOG_CSV_PATH, axum::routing::get(export::failover_log_csv))
        .method_not_allowed_fallback(error::method_not_allowed)
        .leptos_routes_with_context(
            &state,
            routes,
            move || provide_context(console.clone()),
            move || app::shell(options.clone()),
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(app::shell))
        .layer(axum::middleware::from_fn_with_state(state.clone(), identify::layer))
        .layer(axum::middleware::from_fn(headers::security))
        // The path only: a query may carry a dashboard's token.
        .layer(TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
            tracing::debug_span!("request", method = %request.method(), path = %request.uri().path())
        }))
        .with_state(state)
}
