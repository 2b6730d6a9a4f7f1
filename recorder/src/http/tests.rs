//! The router against its own document: every documented operation is served, nothing else is
//! served on a documented path, and the document is whole.

use super::*;
use crate::archive::Archive;
use crate::copy::{PullClient, TaskQueue};
use crate::recording::{Recording, RecordingConfig};
use crate::synthetic::VideoDefaults;
use agent_api::{Grant, ServerKind};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;

/// An idle failover server's router on a fresh data directory (it records nothing), with the
/// secret it accepts.
struct Api {
    router: Router,
    agent: Arc<Agent>,
    secret: String,
}

fn idle_failover_server(dir: &std::path::Path) -> Api {
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
    let credential = Arc::new(Credential::load("fo-1", dir, None).expect("a secret"));
    let secret = std::fs::read_to_string(dir.join("secret")).expect("the secret").trim().to_owned();
    // Its sender gone, the agent counts as stopping: a health stream answers one beat and ends,
    // so the routing checks below can read it to its end.
    let (_, stopping) = tokio::sync::watch::channel(false);
    Api { router: router(agent.clone(), copies, credential, Stopping(stopping)), agent, secret }
}

impl Api {
    /// The answer to a bare request (no query, no body) with the secret: status and JSON body.
    async fn call(&self, method: Method, path: &str) -> (StatusCode, Value) {
        self.call_as(method, path, Some(&format!("Bearer {}", self.secret))).await
    }

    async fn call_as(
        &self,
        method: Method,
        path: &str,
        authorization: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        let request = request.body(Body::empty()).expect("request");
        let response = self.router.clone().oneshot(request).await.expect("an answer");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("body");
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }
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
    let api = idle_failover_server(dir.path());
    let (status, document) = api.call(Method::GET, paths::OPENAPI).await;
    assert_eq!(status, StatusCode::OK);
    let documented = operations(&document);
    assert!(documented.len() >= 17, "{documented:?}");

    // The check can tell: an unknown path and an unknown method are answered by the fallbacks.
    let (status, body) = api.call(Method::GET, "/api/v1/no-such-thing").await;
    assert!(unrouted(status, &body), "{status} {body}");
    let (status, body) = api.call(Method::POST, paths::HEALTH).await;
    assert!(unrouted(status, &body), "{status} {body}");

    for (path, method) in &documented {
        let concrete = paths::with_id(path, "x");
        let (status, body) = api.call(method.clone(), &concrete).await;
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
            let (status, body) = api.call(method.clone(), &paths::with_id(path, "x")).await;
            assert!(
                unrouted(status, &body),
                "{method} {path} is routed but not documented: {status} {body}"
            );
        }
    }
    api.agent.stop();
}

#[tokio::test]
async fn only_health_and_the_document_answer_without_the_secret() {
    let dir = tempfile::tempdir().expect("temp dir");
    let api = idle_failover_server(dir.path());
    let (_, document) = api.call(Method::GET, paths::OPENAPI).await;
    let wrong = "Bearer not-the-secret-of-this-agent";
    let forged = Grant {
        source: "fo-1".into(),
        recorder: "rec-1".into(),
        channels: vec![],
        from: 0,
        to: i64::MAX,
        expires: i64::MAX,
    }
    .sign("a-secret-that-is-not-fo-1s");
    let forged = format!("Bearer {forged}");
    let mut checked = 0;
    for (path, method) in operations(&document) {
        let concrete = paths::with_id(&path, "x");
        for authorization in [None, Some(wrong), Some(forged.as_str())] {
            let (status, body) = api.call_as(method.clone(), &concrete, authorization).await;
            let open = method == Method::GET && access::OPEN.contains(&path.as_str());
            if open {
                assert_eq!(status, StatusCode::OK, "{method} {path} is open: {body}");
            } else {
                assert_eq!(
                    status,
                    StatusCode::UNAUTHORIZED,
                    "{method} {path} with {authorization:?}"
                );
                assert_eq!(body["error"], "unauthorized");
                checked += 1;
            }
        }
        let operation = &document["paths"][&path][method.as_str().to_lowercase()];
        let open = method == Method::GET && access::OPEN.contains(&path.as_str());
        assert_eq!(operation["security"] == serde_json::json!([{}]), open, "{method} {path}");
        // What a caller can get is what the document says it can get.
        assert_eq!(operation["responses"]["401"].is_object(), !open, "{method} {path}: 401");
        let granted = access::granted_service(&path);
        assert_eq!(operation["responses"]["403"].is_object(), granted, "{method} {path}: 403");
    }
    // A method an open path does not take is a 405, with or without a credential.
    for path in access::OPEN {
        let (status, _) = api.call_as(Method::DELETE, path, None).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "DELETE {path}");
    }
    assert!(checked >= 45, "{checked}");
    assert_eq!(document["security"], serde_json::json!([{ "agent_secret": [] }]));
    // An unknown path tells a caller without the secret nothing either.
    let (status, _) = api.call_as(Method::GET, "/api/v1/no-such-thing", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    api.agent.stop();
}

#[tokio::test]
async fn a_grant_reads_only_what_it_names() {
    let dir = tempfile::tempdir().expect("temp dir");
    let api = idle_failover_server(dir.path());
    let grant = Grant {
        source: "fo-1".into(),
        recorder: "rec-1".into(),
        channels: vec!["video-1".into()],
        from: 978_307_200_000_000,
        to: 978_310_800_000_000,
        expires: chrono::Utc::now().timestamp() + 60,
    };
    let bearer = format!("Bearer {}", grant.sign(&api.secret));
    let read = |channel: &str, service: &str, from: &str, to: &str, origin: &str| {
        format!("/api/v1/channels/{channel}/{service}?from={from}&to={to}&origin={origin}")
    };
    let (hour_start, hour_end) = ("2001-01-01T00:00:00Z", "2001-01-01T01:00:00Z");
    // An idle failover server has no channels: a granted read gets as far as saying so.
    for service in ["digest", "playback", "anpr", "alarms"] {
        let inside = read("video-1", service, hour_start, hour_end, "fo-1");
        let (status, body) = api.call_as(Method::GET, &inside, Some(&bearer)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{inside}: {body}");
        assert!(body["message"].as_str().is_some_and(|m| m.contains("no channel")), "{body}");
    }
    let (status, _) = api.call_as(Method::GET, paths::CHANNELS, Some(&bearer)).await;
    assert_eq!(status, StatusCode::OK);
    let beyond = [
        read("video-2", "digest", hour_start, hour_end, "fo-1"),
        read("video-1", "digest", "2000-12-31T23:59:59Z", hour_end, "fo-1"),
        read("video-1", "digest", hour_start, "2001-01-01T01:00:01Z", "fo-1"),
        read("video-1", "digest", hour_start, hour_end, "rec-1"),
        "/api/v1/channels/video-1/digest".to_owned(),
        paths::SETTINGS.to_owned(),
        paths::ACTING.to_owned(),
        paths::COPY_TASKS.to_owned(),
    ];
    for path in beyond {
        let (status, body) = api.call_as(Method::GET, &path, Some(&bearer)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
    }
    let (status, _) = api.call_as(Method::DELETE, paths::ACTING, Some(&bearer)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let expired = Grant { expires: chrono::Utc::now().timestamp() - 1, ..grant };
    let expired = format!("Bearer {}", expired.sign(&api.secret));
    let inside = read("video-1", "digest", hour_start, hour_end, "fo-1");
    let (status, body) = api.call_as(Method::GET, &inside, Some(&expired)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    api.agent.stop();
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

/// A command from a manager whose leadership term has ended is refused; reads pass; only a
/// caller holding the secret moves the epoch on.
#[tokio::test]
async fn a_command_with_an_older_epoch_than_seen_is_refused_with_409() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let api = idle_failover_server(dir.path());
    let secret = format!("Bearer {}", api.secret);
    let send = |method: Method, path: &'static str, epoch: Option<&'static str>, auth: String| {
        let router = api.router.clone();
        async move {
            let mut request =
                Request::builder().method(method).uri(path).header("authorization", auth);
            if let Some(epoch) = epoch {
                request = request.header(agent_api::epoch::HEADER, epoch);
            }
            let request = request.body(Body::empty()).expect("request");
            let response = router.oneshot(request).await.expect("an answer");
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("body");
            (status, serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null))
        }
    };
    // An empty settings body is refused by the handler itself: that status means "not fenced".
    let (unfenced, _) = send(Method::PUT, paths::SETTINGS, Some("5"), secret.clone()).await;
    assert_ne!(unfenced, StatusCode::CONFLICT);
    let (status, body) = send(Method::PUT, paths::SETTINGS, Some("4"), secret.clone()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains("epoch 4") && message.contains("epoch 5"), "{message}");
    assert_eq!(
        send(Method::GET, paths::CHANNELS, Some("3"), secret.clone()).await.0,
        StatusCode::OK
    );
    assert_eq!(send(Method::PUT, paths::SETTINGS, None, secret.clone()).await.0, unfenced);
    // Without the secret: refused, and the epoch it carried is not remembered.
    let wrong = "Bearer not-the-secret-of-this-agent".to_owned();
    assert_eq!(
        send(Method::PUT, paths::SETTINGS, Some("9"), wrong).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(send(Method::PUT, paths::SETTINGS, Some("6"), secret.clone()).await.0, unfenced);
    let (status, body) = send(Method::PUT, paths::SETTINGS, Some("six"), secret).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}
