//! A router that takes a route only together with its OpenAPI operation: it has no other way
//! in, so the document lists every route served.

use super::ApiState;
use axum::Router;
use utoipa::openapi::OpenApi;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};

pub struct DocumentedRouter(OpenApiRouter<ApiState>);

impl DocumentedRouter {
    pub fn new(document: OpenApi) -> Self {
        DocumentedRouter(OpenApiRouter::with_openapi(document))
    }

    /// The handlers of one path, as `utoipa_axum::routes!` gives them with their operations.
    pub fn with(self, routes: UtoipaMethodRouter<ApiState>) -> Self {
        DocumentedRouter(self.0.routes(routes))
    }

    pub fn split(self) -> (Router<ApiState>, OpenApi) {
        self.0.split_for_parts()
    }
}
