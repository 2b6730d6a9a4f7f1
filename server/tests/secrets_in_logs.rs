//! No password, session cookie or token appears in the log. A test binary of its own: tracing
//! caches per call site whether anyone listens, so a capture must not race other tests.

// The in-process router of the integration tests, of which this binary uses a part.
#[path = "integration/test_app.rs"]
#[allow(dead_code)]
mod test_app;

use app::rights::Role;
use axum::body::Body;
use axum::http::Request;
use serde_json::json;
use std::sync::{Arc, Mutex};
use test_app::{As, PASSWORD, test_app};

/// Collects everything the manager logs during a test.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_password_or_token_reaches_the_log() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let app = test_app().await;
    let session = app.login("admin", PASSWORD).await.map_err(|a| a.json).unwrap();
    let _ = app.login("admin", "a wrong guess of a password").await;
    let As::Cookie(cookie) = session.clone() else { unreachable!() };
    let _ = Role::Admin;
    let created = app
        .call(&session, "POST", "/api/v1/tokens", Some(json!({ "name": "wall", "role": "viewer" })))
        .await;
    let secret = created.json["secret"].as_str().unwrap().to_owned();
    let _ = app.call(&As::Token(secret.clone()), "GET", "/api/v1/servers", None).await;
    let _ = app
        .send(Request::get(format!("/servers?token={secret}")).body(Body::empty()).unwrap())
        .await;

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("logged in"), "the capture works: {log}");
    for secret in
        [PASSWORD, "a wrong guess of a password", &secret, cookie.split('=').nth(1).unwrap()]
    {
        let line = log.lines().find(|line| line.contains(secret)).unwrap_or_default();
        assert!(!log.contains(secret), "{secret:?} appears in the log: {line}");
    }
}
