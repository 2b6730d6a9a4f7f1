//! The health monitor against real recorder agents: SIGKILL one, see it go unreachable (in the
//! REST API and as a live event), start it again, see it come back.

use futures::StreamExt;
use serde_json::{Value, json};
use testkit::Agent;
use testkit::eventually;
use testkit::http::client_with_token;
use testkit::manager;

async fn servers(client: &reqwest::Client, manager: &str) -> Vec<Value> {
    client.get(format!("{manager}/api/v1/servers")).send().await.unwrap().json().await.unwrap()
}

async fn state_of(client: &reqwest::Client, manager: &str, name: &str) -> Option<String> {
    servers(client, manager)
        .await
        .into_iter()
        .find(|server| server["name"] == name)
        .and_then(|server| server["state"].as_str().map(str::to_owned))
}

#[tokio::test]
async fn a_killed_recorder_turns_unreachable_live_and_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("standby.db").display());
    let token = manager::create_token(&database, "monitor-test", "admin").await;
    let manager = manager::start(&database, &["--monitor-interval-ms", "200"], &[]).await;
    let mut recorder = Agent::start("rec-1", "recorder", &dir.path().join("rec-1"), &[]).await;
    let failover = Agent::start("fo-1", "failover", &dir.path().join("fo-1"), &[]).await;
    let client = client_with_token(&token);

    for agent in [&recorder, &failover] {
        let servers = format!("{}/api/v1/servers", manager.address());
        let mut server =
            json!({ "name": agent.name, "address": agent.address(), "kind": agent.kind });
        // Enrolment needs the agent's secret; a wrong one or none is refused while it answers.
        for wrong in [None, Some("not-the-secret-of-this-agent")] {
            server["secret"] = wrong.into();
            let refused = client.post(&servers).json(&server).send().await.unwrap();
            assert_eq!(refused.status(), 409);
            let refusal: Value = refused.json().await.unwrap();
            assert_eq!(refusal["error"], "secret_refused", "{refusal}");
        }
        server["secret"] = agent.secret.clone().into();
        let added = client.post(&servers).json(&server).send().await.unwrap();
        assert_eq!(added.status(), 201);
        let added: Value = added.json().await.unwrap();
        assert_eq!(added.get("secret"), None, "a secret is never read back: {added}");
    }
    eventually("rec-1 ok", || async {
        (state_of(&client, manager.address(), "rec-1").await? == "ok").then_some(())
    })
    .await;
    eventually("fo-1 standby", || async {
        (state_of(&client, manager.address(), "fo-1").await? == "standby").then_some(())
    })
    .await;

    let mut events = client
        .get(format!("{}/api/v1/events", manager.address()))
        .send()
        .await
        .unwrap()
        .bytes_stream();
    recorder.kill().await;

    // The change arrives on the event stream without anyone asking.
    let mut seen = String::new();
    let arrived = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        while let Some(chunk) = events.next().await {
            seen.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
            if seen.contains("event: server_changed") && seen.contains(r#""state":"unreachable""#) {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(arrived, Ok(true), "no unreachable event; stream so far: {seen}");
    assert_eq!(state_of(&client, manager.address(), "rec-1").await.as_deref(), Some("unreachable"));

    // Back at the same address, as a repaired server.
    recorder.restart().await;
    eventually("rec-1 ok again", || async {
        (state_of(&client, manager.address(), "rec-1").await? == "ok").then_some(())
    })
    .await;
    let back = servers(&client, manager.address()).await;
    let rec = back.iter().find(|server| server["name"] == "rec-1").unwrap();
    assert!(rec["last_seen_at"].is_string(), "{rec}");
}
