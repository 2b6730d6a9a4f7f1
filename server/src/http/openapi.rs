//! The REST API's OpenAPI document, generated from the handlers and their types. Routes reach the
//! router only through [`Documented`], together with their operation, so nothing is served that
//! the document does not describe.

use super::AppState;
use super::{api, events, metrics};
use axum::extract::Extension;
use axum::response::IntoResponse;
use axum::{Json, Router};
use std::sync::Arc;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi, SecurityRequirement};
use utoipa::{Modify, OpenApi as _};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};
use utoipa_axum::routes;

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Standby management server",
        version = "1",
        description = "Failover console of a video management system. Errors are JSON \
            {error, message} with the HTTP status: 400 bad input (also unknown fields), 401 not \
            logged in, 403 lacking the right, 404, 405, 409 state conflict, 413 body too large \
            (over 1 MiB), 415 a body that is not application/json, 429 slowed down (with \
            Retry-After). Authenticate with the session cookie from POST /api/v1/login or \
            Authorization: Bearer <token>; a token of scope `metrics` reads GET /metrics only. \
            Operations marked with an empty security requirement are open. Requests that change \
            something send their body as content-type: application/json; those without a body \
            (failback, material copy, logout, deletions) need no content type."
    ),
    modifiers(&Credentials)
)]
struct Info;

/// Two ways in, either of which every operation accepts unless it says `security: []`.
struct Credentials;

impl Modify for Credentials {
    fn modify(&self, document: &mut OpenApi) {
        let components = document.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(app::cookies::SESSION_COOKIE))),
        );
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        document.security = Some(vec![
            SecurityRequirement::new("session", Vec::<String>::new()),
            SecurityRequirement::new("token", Vec::<String>::new()),
        ]);
    }
}

/// A router that takes a route only together with its documentation.
struct Documented(OpenApiRouter<AppState>);

impl Documented {
    fn with(self, routes: UtoipaMethodRouter<AppState>) -> Self {
        Documented(self.0.routes(routes))
    }
}

/// Every documented route, and the document.
pub fn routes() -> (Router<AppState>, OpenApi) {
    let (router, document) = Documented(OpenApiRouter::with_openapi(Info::openapi()))
        .with(routes!(healthz))
        .with(routes!(metrics::metrics))
        .with(routes!(openapi_document))
        .with(routes!(events::stream))
        .with(routes!(api::login))
        .with(routes!(api::logout))
        .with(routes!(api::me))
        .with(routes!(api::list_servers, api::add_server))
        .with(routes!(api::server, api::edit_server, api::remove_server))
        .with(routes!(api::cached_settings))
        .with(routes!(api::users, api::add_user))
        .with(routes!(api::remove_user))
        .with(routes!(api::set_password))
        .with(routes!(api::tokens, api::create_token))
        .with(routes!(api::revoke_token))
        .with(routes!(api::audit))
        .with(routes!(api::managers))
        .with(routes!(api::readiness))
        .with(routes!(api::failovers))
        .with(routes!(api::failover))
        .with(routes!(api::failover_coverage))
        .with(routes!(api::failover_coverage_csv))
        .with(routes!(api::failback))
        .with(routes!(api::restore))
        .with(routes!(api::material_copy))
        .with(routes!(api::start_drill))
        .with(routes!(api::drills))
        .with(routes!(api::drill))
        .with(routes!(api::licence, api::set_licence))
        .with(routes!(api::groups, api::add_group))
        .with(routes!(api::replace_group, api::delete_group))
        .0
        .split_for_parts();
    let mut document = document;
    common_refusals(&mut document);
    let shared = Arc::new(document.clone());
    (router.layer(Extension(shared)), document)
}

/// Refusals every operation of a kind can meet, said once here rather than in each handler's
/// list: a path parameter that is not what its path says (`/servers/x`) is a 400; a request
/// that changes something with a body that is not JSON is a 415 (the request-forgery layer
/// refuses it before any handler), and one with a body over the limit a 413.
fn common_refusals(document: &mut OpenApi) {
    use agent_api::openapi::document_refusal;
    let bad_path = "A path parameter is not valid (an id that is not a number)";
    document_refusal(document, "400", bad_path, |_, path, _| path.contains('{'));
    let not_json = "A body sent with a content type other than application/json";
    document_refusal(document, "415", not_json, |method, _, _| method != "get");
    let too_large = "The body is larger than 1 MiB";
    document_refusal(document, "413", too_large, |_, _, operation| {
        operation.request_body.is_some()
    });
}

/// Liveness, no authentication
#[utoipa::path(get, path = "/healthz", tag = "observability", security(()),
    responses((status = 200, description = "`ok`", content_type = "text/plain", body = String)))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// This document (OpenAPI 3.1), generated from the handlers
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "observability", security(()),
    responses((status = 200, description = "OK", content_type = "application/json")))]
pub async fn openapi_document(Extension(document): Extension<Arc<OpenApi>>) -> impl IntoResponse {
    Json(document.as_ref().clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Engine, Parts};
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use leptos::prelude::LeptosOptions;
    use tower::ServiceExt;

    async fn router() -> (Router, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("standby.db").display());
        let store = crate::store::open(&url).await.expect("a store");
        let state = AppState {
            leptos: LeptosOptions::builder().output_name("standby").build(),
            console: Engine::new(Parts::new(store)),
            stop: Default::default(),
        };
        (super::super::router(state), dir)
    }

    fn operations(document: &OpenApi) -> Vec<(String, String)> {
        let json = serde_json::to_value(document).expect("the document serialises");
        let mut found = Vec::new();
        for (path, item) in json["paths"].as_object().expect("paths") {
            for method in ["get", "post", "put", "patch", "delete"] {
                if item.get(method).is_some() {
                    found.push((method.to_uppercase(), path.clone()));
                }
            }
        }
        found
    }

    #[test]
    fn the_contract_paths_are_documented() {
        let (_, document) = routes();
        let documented = operations(&document);
        for (method, path) in [
            ("GET", "/api/v1/servers"),
            ("POST", "/api/v1/servers"),
            ("PATCH", "/api/v1/servers/{id}"),
            ("GET", "/api/v1/failovers"),
            ("GET", "/api/v1/failovers/{id}"),
            ("GET", "/api/v1/failovers/{id}/coverage"),
            ("POST", "/api/v1/failovers/{id}/failback"),
            ("POST", "/api/v1/failovers/{id}/restore"),
            ("POST", "/api/v1/failovers/{id}/material-copy"),
            ("GET", "/api/v1/license"),
            ("PUT", "/api/v1/license"),
            ("GET", "/api/v1/events"),
            ("GET", "/healthz"),
            ("GET", "/metrics"),
            ("POST", "/api/v1/login"),
        ] {
            assert!(
                documented.iter().any(|(m, p)| m == method && p == path),
                "{method} {path} is not in the document"
            );
        }
    }

    /// Login, `/healthz` and the document itself say they are open (an empty security
    /// requirement); everything else takes the session or a token; `/metrics` is documented;
    /// the body-less POSTs describe no body.
    #[test]
    fn open_operations_and_bodyless_posts_say_so() {
        let (_, document) = routes();
        let json = serde_json::to_value(&document).expect("the document serialises");
        let open = |method: &str, path: &str| {
            json["paths"][path][method]["security"].as_array().is_some_and(|all| {
                all.iter().all(|one| one.as_object().is_some_and(|o| o.is_empty()))
            })
        };
        for (method, path) in
            [("post", "/api/v1/login"), ("get", "/healthz"), ("get", "/api/v1/openapi.json")]
        {
            assert!(open(method, path), "{method} {path}: {}", json["paths"][path][method]);
        }
        for (method, path) in [("get", "/api/v1/servers"), ("get", "/metrics")] {
            assert!(!open(method, path), "{method} {path} needs credentials");
        }
        let schemes = json["components"]["securitySchemes"].as_object().expect("schemes");
        assert!(schemes.contains_key("session") && schemes.contains_key("token"));
        for path in [
            "/api/v1/failovers/{id}/failback",
            "/api/v1/failovers/{id}/restore",
            "/api/v1/failovers/{id}/material-copy",
            "/api/v1/logout",
        ] {
            assert!(json["paths"][path]["post"]["requestBody"].is_null(), "{path} has a body");
        }
        let login_429 = &json["paths"]["/api/v1/login"]["post"]["responses"]["429"];
        assert!(login_429["headers"]["Retry-After"].is_object(), "{login_429}");
    }

    /// Every `$ref` in the document names a schema it holds, and every operation documents the
    /// refusals the layers before its handler can give (400 path, 415 media type, 413 size).
    #[test]
    fn references_resolve_and_common_refusals_are_documented() {
        let (_, document) = routes();
        let json = serde_json::to_value(&document).expect("the document serialises");
        let schemas = json["components"]["schemas"].as_object().expect("schemas");
        let text = json.to_string();
        for reference in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = reference.split('"').next().unwrap_or_default();
            assert!(schemas.contains_key(name), "{name} is referenced but not in the document");
        }
        for (path, method) in operations(&document).iter().map(|(m, p)| (p, m.to_lowercase())) {
            let operation = &json["paths"][path][&method];
            let documents = |status: &str| operation["responses"][status].is_object();
            if path.contains('{') {
                assert!(documents("400"), "{method} {path} does not document 400");
            }
            if method != "get" {
                assert!(documents("415"), "{method} {path} does not document 415");
            }
            if !operation["requestBody"].is_null() {
                assert!(documents("413"), "{method} {path} does not document 413");
            }
        }
    }

    /// Every documented operation is routed: it is answered by its handler (here: 401, since
    /// the request carries no credentials, or its own answer), never by the fallbacks.
    #[tokio::test]
    async fn every_documented_operation_is_routed() {
        let (router, _dir) = router().await;
        let (_, document) = routes();
        for (method, path) in operations(&document) {
            let uri = path.replace("{id}", "1").replace("{name}", "someone");
            let request = Request::builder()
                .method(method.as_str())
                .uri(&uri)
                .header("content-type", "application/json")
                .body(Body::from("{}"))
                .expect("a request");
            let response = router.clone().oneshot(request).await.expect("an answer");
            let status = response.status();
            let body =
                axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap_or_default();
            let text = String::from_utf8_lossy(&body);
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}: {text}");
            assert!(!text.contains("There is no API route"), "{method} {path} is not routed");
        }
    }

    /// Who comes before what: a body-less POST without credentials and with a stray content
    /// type is a 401, not a 415; a stale token stops neither `/healthz`, the document nor a
    /// login (they are open), while on everything else it is a 401 `invalid_token`.
    #[tokio::test]
    async fn credentials_are_judged_first_and_open_operations_ignore_stale_tokens() {
        let (router, _dir) = router().await;
        let send = |method: &str, uri: &str, headers: &[(&str, &str)], body: &'static str| {
            let mut request = Request::builder().method(method).uri(uri);
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            let request = request.body(Body::from(body)).expect("a request");
            let router = router.clone();
            async move {
                let response = router.oneshot(request).await.expect("an answer");
                let status = response.status();
                let body = axum::body::to_bytes(response.into_body(), 1 << 20).await;
                let json: serde_json::Value =
                    serde_json::from_slice(&body.unwrap_or_default()).unwrap_or_default();
                (status, json)
            }
        };
        let plain = [("content-type", "text/plain")];
        let (status, json) = send("POST", "/api/v1/failovers/1/failback", &plain, "").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{json}");

        let stale = [("authorization", "Bearer not-a-token")];
        let (status, _) = send("GET", "/healthz", &stale, "").await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = send("GET", "/api/v1/openapi.json", &stale, "").await;
        assert_eq!(status, StatusCode::OK);
        let login = [stale[0], ("content-type", "application/json")];
        let body = r#"{"username":"nobody","password":"wrong"}"#;
        let (status, json) = send("POST", "/api/v1/login", &login, body).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_ne!(json["error"], "invalid_token", "{json}");
        let (status, json) = send("GET", "/api/v1/servers", &stale, "").await;
        assert_eq!(
            (status, json["error"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_token"))
        );
    }

    /// And what is not documented is not served: an unknown API path and a method a documented
    /// path does not take get the JSON fallbacks.
    #[tokio::test]
    async fn undocumented_routes_get_the_json_fallbacks() {
        let (router, _dir) = router().await;
        let get = |uri: &str, method: &str| {
            let request = Request::builder().method(method).uri(uri);
            let request = request.header("content-type", "application/json");
            request.body(Body::from("{}")).expect("a request")
        };
        let answer = router.clone().oneshot(get("/api/v1/nothing", "GET")).await.expect("answer");
        assert_eq!(answer.status(), StatusCode::NOT_FOUND);
        let answer = router.oneshot(get("/api/v1/servers", "DELETE")).await.expect("answer");
        assert_eq!(answer.status(), StatusCode::METHOD_NOT_ALLOWED);
        let body = axum::body::to_bytes(answer.into_body(), 1 << 20).await.unwrap_or_default();
        let json: serde_json::Value = serde_json::from_slice(&body).expect("a JSON error");
        assert_eq!(json["error"], "method_not_allowed");
    }
}
