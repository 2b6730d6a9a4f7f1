//! The REST API's contract, in process: statuses, error shape, validation naming the field.

use crate::test_app::{As, TestApp, test_app};
use app::rights::Role;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};

/// The tests below act as an administrator unless they say otherwise.
struct Api(TestApp);

async fn api() -> Api {
    Api(test_app().await)
}

impl Api {
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let answer = self.0.call(&self.0.token(Role::Admin), method, path, body).await;
        (answer.status, answer.json)
    }
}

fn recorder(name: &str, address: &str) -> Value {
    json!({ "name": name, "address": address, "kind": "recorder", "failover_enabled": true, "auto_failback": false })
}

#[tokio::test]
async fn servers_are_added_listed_and_edited() {
    let api = api().await;
    let (status, added) =
        api.call("POST", "/api/v1/servers", Some(recorder("Rec 1", "10.0.0.5:8080"))).await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    assert_eq!(added["address"], "http://10.0.0.5:8080");
    assert_eq!(added["state"], "unreachable");
    assert_eq!(added["acting_for"], Value::Null);
    assert_eq!(added["auto_failback"], false);
    for field in [
        "id",
        "name",
        "address",
        "kind",
        "state",
        "acting_for",
        "failover_enabled",
        "auto_failback",
        "maintenance_mode",
        "last_seen_at",
    ] {
        assert!(added.get(field).is_some(), "missing {field} in {added}");
    }

    let id = added["id"].as_i64().unwrap();
    let (status, edited) = api
        .call("PATCH", &format!("/api/v1/servers/{id}"), Some(json!({ "maintenance_mode": true })))
        .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(edited["maintenance_mode"], true);
    assert_eq!(edited["name"], "Rec 1", "fields not sent stay as they were");

    let (status, list) = api.call("GET", "/api/v1/servers", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    let (status, one) = api.call("GET", &format!("/api/v1/servers/{id}"), None).await;
    assert_eq!((status, &one["maintenance_mode"]), (StatusCode::OK, &json!(true)));
}

#[tokio::test]
async fn bad_input_is_a_400_naming_the_field() {
    let api = api().await;
    let cases = [
        (recorder("", "10.0.0.5:8080"), "invalid_name", "name"),
        (recorder("   ", "10.0.0.5:8080"), "invalid_name", "name"),
        (recorder("Rec", "10.0.0.5:99999"), "invalid_address", "address"),
        (recorder("Rec", "not an address"), "invalid_address", "address"),
        (recorder("Rec", ""), "invalid_address", "address"),
    ];
    for (body, code, field) in cases {
        let (status, error) = api.call("POST", "/api/v1/servers", Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} → {error}");
        assert_eq!(error["error"], code, "{body} → {error}");
        assert!(error["message"].as_str().unwrap().starts_with(&format!("{field}:")), "{error}");
    }
    let (status, error) = api
        .call(
            "POST",
            "/api/v1/servers",
            Some(json!({ "name": "x", "address": "h:1", "kind": "camera" })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["error"], "invalid_body");
    assert!(error["message"].as_str().unwrap().contains("kind"), "{error}");

    let (status, _) = api.call("GET", "/api/v1/servers", None).await;
    assert_eq!(status, StatusCode::OK);
    let (_, list) = api.call("GET", "/api/v1/servers", None).await;
    assert_eq!(list, json!([]), "nothing was added by refused requests");
}

#[tokio::test]
async fn duplicate_names_conflict() {
    let api = api().await;
    let (status, first) = api.call("POST", "/api/v1/servers", Some(recorder("Rec 1", "h:1"))).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, error) = api.call("POST", "/api/v1/servers", Some(recorder("REC 1", "h:2"))).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error["error"], "duplicate_name");

    let (_, second) = api.call("POST", "/api/v1/servers", Some(recorder("Rec 2", "h:2"))).await;
    let path = format!("/api/v1/servers/{}", second["id"]);
    let (status, error) = api.call("PATCH", &path, Some(json!({ "name": first["name"] }))).await;
    assert_eq!((status, &error["error"]), (StatusCode::CONFLICT, &json!("duplicate_name")));

    let (status, error) = api.call("POST", "/api/v1/servers", Some(recorder("Rec 3", "h:1"))).await;
    assert_eq!((status, &error["error"]), (StatusCode::CONFLICT, &json!("duplicate_address")));
    assert!(error["message"].as_str().unwrap_or_default().contains("Rec 1"), "{error}");
    let (status, error) = api.call("PATCH", &path, Some(json!({ "address": "h:1" }))).await;
    assert_eq!((status, &error["error"]), (StatusCode::CONFLICT, &json!("duplicate_address")));
    // A server keeps its own name and address when something else of it changes.
    let body = json!({ "name": "rec 2", "address": "h:2", "auto_failback": true });
    let (status, changed) = api.call("PATCH", &path, Some(body)).await;
    assert_eq!((status, &changed["name"]), (StatusCode::OK, &json!("rec 2")), "{changed}");
}

#[tokio::test]
async fn errors_are_json_everywhere_under_api() {
    let api = api().await;
    let (status, error) = api.call("GET", "/api/v1/no-such-thing", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error["error"], "not_found");
    assert!(error["message"].as_str().unwrap().contains("/api/v1/no-such-thing"), "{error}");

    let (status, error) = api.call("GET", "/api/v1/servers/77", None).await;
    assert_eq!((status, &error["error"]), (StatusCode::NOT_FOUND, &json!("not_found")));
    let (status, error) =
        api.call("PATCH", "/api/v1/servers/77", Some(json!({ "auto_failback": true }))).await;
    assert_eq!((status, &error["error"]), (StatusCode::NOT_FOUND, &json!("not_found")));
    let (status, error) = api.call("GET", "/api/v1/servers/abc", None).await;
    assert_eq!((status, &error["error"]), (StatusCode::BAD_REQUEST, &json!("invalid_path")));
    let (status, error) =
        api.call("PATCH", "/api/v1/servers/1", Some(json!({ "colour": "red" }))).await;
    assert_eq!((status, &error["error"]), (StatusCode::BAD_REQUEST, &json!("invalid_body")));

    // A body that is not declared as JSON is refused, which also keeps other sites' forms out.
    let As::Token(token) = api.0.token(Role::Admin) else { unreachable!() };
    let request = Request::post("/api/v1/servers")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::from(recorder("x", "h:1").to_string()))
        .unwrap();
    let answer = api.0.send(request).await;
    assert_eq!(answer.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(answer.json["error"], "unsupported_media_type");
}

#[tokio::test]
async fn health_and_openapi_are_served() {
    let api = api().await;
    let (status, body) = api.call("GET", "/healthz", None).await;
    assert_eq!((status, body), (StatusCode::OK, json!("ok")));
    let (status, document) = api.call("GET", "/api/v1/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(document["openapi"], "3.1.0");
    for path in [
        "/api/v1/servers",
        "/api/v1/failovers",
        "/api/v1/failovers/{id}/failback",
        "/api/v1/failovers/{id}/material-copy",
        "/api/v1/license",
        "/api/v1/events",
    ] {
        assert!(document["paths"][path].is_object(), "{path} is not documented");
    }
    let (status, metrics) = api.call("GET", "/metrics", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(metrics.as_str().unwrap().contains("standby_servers{state=\"ok\"} 0"), "{metrics}");
}

#[tokio::test]
async fn media_types_sizes_and_unknown_fields_get_their_statuses() {
    let api = api().await;
    let admin = api.0.token(Role::Admin);
    let send = |content_type: Option<&str>, path: &str, body: String| {
        let mut request = Request::post(path)
            .header("authorization", format!("Bearer {}", api.0.tokens[&Role::Admin]));
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        api.0.send(request.body(Body::from(body)).unwrap())
    };
    let server = recorder("r1", "h:1").to_string();

    let text = send(Some("text/plain"), "/api/v1/servers", server.clone()).await;
    assert_eq!(text.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", text.json);
    assert_eq!(text.json["error"], "unsupported_media_type");
    let untyped = send(None, "/api/v1/servers", server.clone()).await;
    assert_eq!(untyped.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", untyped.json);
    let empty = send(None, "/api/v1/servers", String::new()).await;
    assert_eq!(
        empty.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "a body is required: {}",
        empty.json
    );

    let huge = json!({ "name": "x".repeat(3 << 20), "address": "h:2", "kind": "recorder" });
    let huge = send(Some("application/json"), "/api/v1/servers", huge.to_string()).await;
    assert_eq!(huge.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", huge.json);
    assert_eq!(huge.json["error"], "payload_too_large");

    let mut extra = recorder("r2", "h:3");
    extra["is_admin"] = json!(true);
    let extra = api.0.call(&admin, "POST", "/api/v1/servers", Some(extra)).await;
    assert_eq!(extra.status, StatusCode::BAD_REQUEST, "{}", extra.json);
    assert!(extra.json["message"].as_str().unwrap().contains("is_admin"), "{}", extra.json);
    for (path, body) in [
        ("/api/v1/login", json!({ "username": "a", "password": "b", "remember": true })),
        ("/api/v1/tokens", json!({ "name": "t", "role": "viewer", "scopes": ["all"] })),
        ("/api/v1/users", json!({ "name": "u", "password": "p", "role": "viewer", "x": 1 })),
    ] {
        let answer = api.0.call(&admin, "POST", path, Some(body)).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{path}: {}", answer.json);
    }

    // Body-less POSTs need no content type: the handler answers (no such entry).
    for path in ["/api/v1/failovers/999/failback", "/api/v1/failovers/999/material-copy"] {
        let answer = send(None, path, String::new()).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}: {}", answer.json);
    }
    let deleted = api.0.call(&admin, "DELETE", "/api/v1/tokens/999", None).await;
    assert_eq!(deleted.status, StatusCode::NOT_FOUND, "{}", deleted.json);
}

#[tokio::test]
async fn a_slowed_down_login_says_when_to_try_again() {
    let api = api().await;
    for _ in 0..4 {
        let _ = api.0.login("admin", "wrong").await;
    }
    let slowed = api.0.login("admin", "wrong").await.err().unwrap();
    assert_eq!(slowed.status, StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = slowed.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=300).contains(&wait), "{wait}");
}
