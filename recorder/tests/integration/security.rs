//! The attacks a probe made on an agent without authentication, each refused now: an attacker
//! on the camera network who can reach the agent's port but holds neither its secret nor a
//! grant signed with it.

use crate::support::*;
use recorder::time::now_micros;
use recorder::wire::Record;
use reqwest::Method;
use serde_json::{Value, json};

fn temp() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// A request with no credential, or with the one given.
async fn as_stranger(
    agent: &Agent,
    method: Method,
    path: &str,
    bearer: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value) {
    let client = match bearer {
        Some(token) => testkit::http::client_with_token(token),
        None => reqwest::Client::new(),
    };
    testkit::http::send(&client, method, &agent.url(path), body).await
}

fn forged_read(at: i64) -> Record {
    Record {
        timestamp: at,
        sequence: 1,
        origin: "rec-1".into(),
        payload: json!({"plate": "FORGED-1", "confidence": 0.99, "source": "video-1"})
            .to_string()
            .into_bytes(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_cannot_change_settings_acting_or_records_and_is_logged_once() {
    let dir = temp();
    let recorder = Agent::start("rec-1", "recorder", &dir.path().join("rec-1"), LIGHT).await;
    let failover = Agent::start("fo-1", "failover", &dir.path().join("fo-1"), LIGHT).await;
    let (_, settings) = recorder.get("/settings").await;

    // Health and the document stay open: the monitor and load balancers read them.
    assert_eq!(as_stranger(&recorder, Method::GET, "/health", None, None).await.0, 200);
    assert_eq!(as_stranger(&recorder, Method::GET, "/openapi.json", None, None).await.0, 200);

    // Stopping a recorder's recording by emptying its settings.
    for bearer in [None, Some("guessed-secret-guessed-secret")] {
        let (status, body) = as_stranger(
            &recorder,
            Method::PUT,
            "/settings",
            bearer,
            Some(&json!({ "channels": [] })),
        )
        .await;
        assert_eq!((status, &body["error"]), (401, &json!("unauthorized")), "{body}");
    }
    assert_eq!(recorder.get("/settings").await.1, settings, "the settings are unchanged");

    // Making a failover server busy for an invented recorder, or stopping it.
    let invented = json!({ "recorder": "rec-99", "settings": settings });
    assert_eq!(as_stranger(&failover, Method::PUT, "/acting", None, Some(&invented)).await.0, 401);
    assert_eq!(as_stranger(&failover, Method::DELETE, "/acting", None, None).await.0, 401);
    assert_eq!(failover.get("/health").await.1["acting_for"], Value::Null);

    // Forging an ANPR read (evidence), and reading the plates.
    let forged = body(&[forged_read(Y2001)]);
    let response = reqwest::Client::new()
        .post(recorder.url("/channels/anpr-1/records"))
        .header("content-type", recorder::wire::MEDIA_TYPE)
        .body(forged)
        .send()
        .await
        .expect("post");
    assert_eq!(response.status().as_u16(), 401);
    let search = format!("/channels/anpr-1/anpr?{}", query(Y2001 - HOUR, now_micros(), None));
    assert_eq!(as_stranger(&recorder, Method::GET, &search, None, None).await.0, 401);
    let (_, page) = recorder.get(&search).await;
    assert!(!page.to_string().contains("FORGED"), "{page}");

    // Starting a copy from an address of the attacker's choice.
    let task = json!({
        "failover_id": 1, "source": { "name": "evil", "address": "http://127.0.0.1:9" },
        "recorder": "rec-1", "from": time(Y2001), "to": time(Y2001 + HOUR),
        "channels": [{ "id": "anpr-1", "kind": "anpr" }],
    });
    assert_eq!(as_stranger(&recorder, Method::POST, "/copy-tasks", None, Some(&task)).await.0, 401);
    assert_eq!(recorder.get("/copy-tasks").await.1, json!([]));
    // Rotating the secret to one the attacker knows.
    let rotate = json!({ "secret": "the-attackers-own-secret" });
    assert_eq!(
        as_stranger(&recorder, Method::PUT, "/credential", None, Some(&rotate)).await.0,
        401
    );

    // Every refusal above came from one source: logged once, not once per request.
    let log = recorder.log_text();
    assert_eq!(log.matches("refused a request without a valid credential").count(), 1, "{log}");
    assert!(!log.contains(&recorder.secret), "the secret is never logged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_from_the_future_are_refused_so_retention_cannot_be_steered() {
    let dir = temp();
    let recorder = Agent::start("rec-1", "recorder", &dir.path().join("rec-1"), LIGHT).await;
    // Even with the secret: a record dated in 2100 would outlive every genuine one.
    let year_2100 = 4_102_444_800_000_000;
    let (status, refusal) = ingest(&recorder, "anpr-1", body(&[forged_read(year_2100)])).await;
    assert_eq!(status, 400, "{refusal}");
    assert!(refusal["message"].as_str().is_some_and(|m| m.contains("outside")), "{refusal}");
    let a_minute_ahead = now_micros() + 60_000_000;
    assert_eq!(ingest(&recorder, "anpr-1", body(&[forged_read(a_minute_ahead)])).await.0, 400);
    let (_, future) = recorder
        .get(&format!(
            "/channels/anpr-1/digest?{}",
            query(now_micros() + 30_000_000, year_2100 + HOUR, None)
        ))
        .await;
    assert_eq!(future["count"], 0, "nothing stored in the future: {future}");
    // The past is fine (copied material is old).
    assert_eq!(ingest(&recorder, "anpr-1", body(&[forged_read(Y2001)])).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_secret_works_at_once_the_old_one_for_a_while_and_after_a_restart_only_the_new() {
    let dir = temp();
    let mut agent = Agent::start("rec-1", "recorder", &dir.path().join("rec-1"), LIGHT).await;
    let old = agent.secret.clone();
    let new = "a-new-secret-for-rec-1-abcdef";
    eventually("rec-1 records", || async { agent.get("/health").await.1["recording"] == true })
        .await;
    let (status, body) =
        agent.send_json(Method::PUT, "/credential", &json!({ "secret": "short" })).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) =
        agent.send_json(Method::PUT, "/credential", &json!({ "secret": new })).await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(as_stranger(&agent, Method::GET, "/settings", Some(new), None).await.0, 200);
    assert_eq!(as_stranger(&agent, Method::GET, "/settings", Some(&old), None).await.0, 200);
    // Recording went on throughout (no restart).
    let (_, health) = agent.get("/health").await;
    assert_eq!(health["recording"], true, "{health}");
    agent.restart().await;
    assert_eq!(secret_of(&agent.data_dir), new);
    assert_eq!(as_stranger(&agent, Method::GET, "/settings", Some(new), None).await.0, 200);
    assert_eq!(as_stranger(&agent, Method::GET, "/settings", Some(&old), None).await.0, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_file_can_be_given() {
    let dir = temp();
    let file = dir.path().join("given-secret");
    std::fs::write(&file, "a-secret-from-the-administrator\n").expect("write");
    let path = file.display().to_string();
    let agent = Agent::command("rec-1", "recorder", &dir.path().join("rec-1"))
        .args(LIGHT)
        .env("STANDBY_AGENT_SECRET_FILE", &path)
        .start_with_secret("a-secret-from-the-administrator")
        .await;
    assert_eq!(agent.get("/settings").await.0, 200);
    assert!(!agent.data_dir.join("secret").exists());
}
