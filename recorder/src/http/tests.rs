//! The router against its own document: every documented operation is served, nothing else is
//! served on a documented path, and the document is whole.

use super::*;
use crate::archive::Archive;
use crate::copy::{PullClient, TaskQueue};
use crate::recording::{Recording, RecordingConfig};
use crate::synthetic::VideoDefaults;
use agent_api::ServerKind;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;

/// An idle failover server's router on a fresh data directory (it records nothing).
fn idle_failover_server(dir: &std::path::Path) -> (Router, Arc<Agent>) {
    let archive = Arc::new(Archive::open(&dir.join("archive")).expect("archive"));
    let recording = Recording::start(RecordingConfig {
        origin: "fo-1".into(),
        video: VideoDefaults { frame_rate: 5.0, bitrate_kbps: 64 },
        segment_max_bytes: 1 << 20,
        segment_max_duration: 60_000_000,
    })
    .expect("recording thread");
    let agent = Arc::new(
        Agent::start("fo-1".into(), ServerKind::Failover, dir, archive, recording).expect("agent"),
    );
    let copies = CopyService {
        queue: Arc::new(TaskQueue::open(dir).expect("queue")),
        pull: PullClient::new().expect("client"),
    };
    (router(agent.clone(), copies), agent)
}

/// The answer to a bare request (no query, no body): status and JSON body, if any.
async fn call(router: &Router, method: Method, path: &str) -> (StatusCode, Value) {
    let request = Request::builder().method(method).uri(path).body(Body::empty()).expect("request");
    let response = router.clone().oneshot(request).await.expect("an answer");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("body");
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// Whether the answer came from the router's fallbacks rather than from a route.
fn unrouted(status: StatusCode, body: &Value) -> bool {
    status == StatusCode::METHOD_NOT_ALLOWED
        || (status == StatusCode::NOT_FOUND
            && body["message"].as_str().is_some_and(|m| m.starts_with("There is no recorder API")))
}

fn operations(document: &Value) -> Vec<(String, Method)> {
    let mut operations = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("a method");
            operations.push((path.clone(), method));
        }
    }
    operations
}

#[tokio::test]
async fn every_documented_operation_is_routed_and_no_other_method_on_its_path() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (router, agent) = idle_failover_server(dir.path());
    let (status, document) = call(&router, Method::GET, paths::OPENAPI).await;
    assert_eq!(status, StatusCode::OK);
    let documented = operations(&document);
    assert!(documented.len() >= 17, "{documented:?}");

    // The check can tell: an unknown path and an unknown method are answered by the fallbacks.
    let (status, body) = call(&router, Method::GET, "/api/v1/no-such-thing").await;
    assert!(unrouted(status, &body), "{status} {body}");
    let (status, body) = call(&router, Method::POST, paths::HEALTH).await;
    assert!(unrouted(status, &body), "{status} {body}");

    for (path, method) in &documented {
        let concrete = paths::with_id(path, "x");
        let (status, body) = call(&router, method.clone(), &concrete).await;
        assert!(
            !unrouted(status, &body),
            "{method} {path} is documented but not routed: {status} {body}"
        );
    }
    let others = [Method::GET, Method::PUT, Method::POST, Method::DELETE, Method::PATCH];
    for path in document["paths"].as_object().expect("paths").keys() {
        for method in &others {
            if documented.contains(&(path.clone(), method.clone())) {
                continue;
            }
            let (status, body) = call(&router, method.clone(), &paths::with_id(path, "x")).await;
            assert!(
                unrouted(status, &body),
                "{method} {path} is routed but not documented: {status} {body}"
            );
        }
    }
    agent.stop();
}

#[test]
fn every_reference_in_the_document_resolves() {
    let (_, document) = documented();
    let document = serde_json::to_value(&document).expect("serialises");
    fn walk<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(reference)) = map.get("$ref") {
                    found.push(reference);
                }
                map.values().for_each(|v| walk(v, found));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, found)),
            _ => {}
        }
    }
    let mut references = Vec::new();
    walk(&document, &mut references);
    assert!(!references.is_empty());
    for reference in references {
        let name = reference.strip_prefix("#/components/schemas/").expect("a schema reference");
        assert!(document["components"]["schemas"][name].is_object(), "{reference} is not defined");
    }
}

#[test]
fn the_contract_fields_of_health_are_required() {
    let (_, document) = documented();
    let document = serde_json::to_value(&document).expect("serialises");
    let required = &document["components"]["schemas"]["Health"]["required"];
    for field in ["name", "kind", "acting_for"] {
        assert!(required.as_array().is_some_and(|r| r.contains(&Value::from(field))), "{field}");
    }
}
