//! Failback, manual and automatic, with real agents: the seed's checks in order, one refusal
//! each; exactly one of many concurrent triggers; recovery after SIGKILL at every step.

use serde_json::{Value, json};
use std::time::Duration;
use testkit::Site;
use testkit::eventually;

const MANUAL_ONLY: &str = "--failback-hold-down-ms";

async fn finalized(site: &Site, id: &Value) -> Value {
    eventually("the entry finalized", || async {
        let entry = site.get(&format!("/api/v1/failovers/{id}")).await;
        (entry["status"] == "finalized").then_some(entry)
    })
    .await
}

async fn assert_failed_back(site: &Site, entry: &Value) {
    assert_eq!(entry["status"], "finalized");
    assert!(
        entry["failback_started_at"].is_string() && entry["failback_finished_at"].is_string(),
        "{entry}"
    );
    site.wait_state("rec-1", "ok").await;
    site.wait_state("fo-1", "standby").await;
    assert_eq!(site.agent_get("fo-1", "/api/v1/health").await["acting_for"], Value::Null);
    assert_eq!(site.agent_get("rec-1", "/api/v1/health").await["recording"], true);
}

#[tokio::test]
async fn manual_failback_answers_with_its_times_and_puts_everything_back() {
    let mut site = Site::start(Some(1), &[]).await;
    let entry = site.failed_over(json!({ "auto_failback": false })).await;
    let id = entry["id"].clone();
    let path = format!("/api/v1/failovers/{id}/failback");

    // Refused while the repaired server is not back on the network.
    let (status, refusal) = site.post(&path, json!({})).await;
    assert_eq!((status, &refusal["error"]), (409, &json!("no_recorder_connection")), "{refusal}");
    assert!(refusal["message"].as_str().unwrap().contains("same address"), "{refusal}");

    site.agent("rec-1", "recorder").await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(site.server("rec-1").await["state"], "broken", "back, but broken until failback");

    let (status, answer) = site.post(&path, json!({})).await;
    assert_eq!(status, 200, "{answer}");
    let started =
        chrono::DateTime::parse_from_rfc3339(answer["started_at"].as_str().unwrap()).unwrap();
    let finished =
        chrono::DateTime::parse_from_rfc3339(answer["finished_at"].as_str().unwrap()).unwrap();
    assert_eq!(answer["duration_ms"].as_i64().unwrap(), (finished - started).num_milliseconds());
    let entry = finalized(&site, &id).await;
    assert_eq!(
        (&entry["failback_trigger"], &entry["failback_by"]),
        (&json!("manual"), &json!("token:site-admin"))
    );
    assert_failed_back(&site, &entry).await;

    let (status, refusal) = site.post(&path, json!({})).await;
    assert_eq!((status, &refusal["error"]), (409, &json!("failback_already_performed")));
    let audit = site.get("/api/v1/audit?action=failback").await;
    let outcomes: Vec<_> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line["outcome"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(outcomes, ["failback_already_performed", "ok", "no_recorder_connection"]);
}

#[tokio::test]
async fn each_check_refuses_with_its_own_reason() {
    let mut site = Site::start(Some(1), &[]).await;
    // A refused failover was never performed.
    site.agent_with("rec-0", "recorder", json!({ "auto_failback": false })).await;
    let entry = site.failed_over(json!({ "auto_failback": false })).await;
    site.wait_state("rec-0", "ok").await;
    site.wait_settings_cached("rec-0").await;
    site.kill("rec-0").await;
    let never = eventually("rec-0 refused for want of a failover server", || async {
        site.failovers("?state=finalized")
            .await
            .into_iter()
            .find(|entry| entry["recorder"]["name"] == "rec-0")
    })
    .await;
    let (status, refusal) =
        site.post(&format!("/api/v1/failovers/{}/failback", never["id"]), json!({})).await;
    assert_eq!((status, &refusal["error"]), (409, &json!("failover_not_performed")));
    let (status, _) = site.post("/api/v1/failovers/999/failback", json!({})).await;
    assert_eq!(status, 404);

    site.agent("rec-1", "recorder").await;
    let path = format!("/api/v1/failovers/{}/failback", entry["id"]);
    // 4. Failover is enabled in the licence.
    let (status, _) = site
        .client
        .put(site.url("/api/v1/license"))
        .json(&json!({ "failover_enabled": false, "failover_servers": 1 }))
        .send()
        .await
        .map(|r| (r.status().as_u16(), ()))
        .unwrap();
    assert_eq!(status, 200);
    let (status, refusal) = site.post(&path, json!({})).await;
    assert_eq!((status, &refusal["error"]), (409, &json!("no_license")));
    site.client
        .put(site.url("/api/v1/license"))
        .json(&json!({ "failover_enabled": true, "failover_servers": 1 }))
        .send()
        .await
        .unwrap();

    // 2. The failover server is still acting for the recorder.
    site.kill("fo-1").await;
    let (status, refusal) = site.post(&path, json!({})).await;
    assert_eq!(
        (status, &refusal["error"]),
        (409, &json!("failover_server_wrong_state")),
        "{refusal}"
    );
    site.agent("fo-1", "failover").await;
    // It acts again after its restart (its agent remembers), so the failback goes through.
    let (status, answer) = site.post(&path, json!({})).await;
    assert_eq!(status, 200, "{answer}");
}

#[tokio::test]
async fn twenty_concurrent_manual_triggers_give_one_failback() {
    let mut site = Site::start(Some(1), &[]).await;
    let entry = site.failed_over(json!({ "auto_failback": false })).await;
    site.agent("rec-1", "recorder").await;
    let path = format!("/api/v1/failovers/{}/failback", entry["id"]);
    let presses = (0..20).map(|_| site.post(&path, json!({})));
    let answers = futures::future::join_all(presses).await;
    let ok = answers.iter().filter(|(status, _)| *status == 200).count();
    let conflicts: Vec<_> = answers
        .iter()
        .filter(|(status, _)| *status == 409)
        .map(|(_, body)| body["error"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!((ok, conflicts.len()), (1, 19), "{answers:?}");
    assert!(
        conflicts
            .iter()
            .all(|code| code == "failback_in_progress" || code == "failback_already_performed"),
        "{conflicts:?}"
    );
    assert_failed_back(&site, &finalized(&site, &entry["id"]).await).await;
}

#[tokio::test]
async fn automatic_failback_waits_for_the_hold_down_and_not_in_maintenance() {
    let mut site = Site::start(Some(1), &[MANUAL_ONLY, "1500"]).await;
    let entry = site.failed_over(json!({ "auto_failback": true })).await;
    let rec = site.server("rec-1").await["id"].clone();

    // A flapping server: back for less than the hold-down, then gone again.
    for _ in 0..2 {
        site.agent("rec-1", "recorder").await;
        tokio::time::sleep(Duration::from_millis(700)).await;
        site.kill("rec-1").await;
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    assert_eq!(
        site.get(&format!("/api/v1/failovers/{}", entry["id"])).await["status"],
        "active",
        "no ping-pong"
    );

    // Maintenance mode: no automatic failback, however long it answers.
    let (status, _) =
        site.patch(&format!("/api/v1/servers/{rec}"), json!({ "maintenance_mode": true })).await;
    assert_eq!(status, 200);
    site.agent("rec-1", "recorder").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(site.get(&format!("/api/v1/failovers/{}", entry["id"])).await["status"], "active");
    site.patch(&format!("/api/v1/servers/{rec}"), json!({ "maintenance_mode": false })).await;

    // Out of maintenance, and stable for the hold-down: failed back automatically.
    let entry = finalized(&site, &entry["id"]).await;
    assert_eq!(
        (&entry["failback_trigger"], &entry["failback_by"]),
        (&json!("automatic"), &json!("automatic"))
    );
    assert_failed_back(&site, &entry).await;
}

#[tokio::test]
async fn maintenance_mode_does_not_block_manual_failback() {
    let mut site = Site::start(Some(1), &[]).await;
    let entry = site.failed_over(json!({ "auto_failback": true })).await;
    let rec = site.server("rec-1").await["id"].clone();
    site.patch(&format!("/api/v1/servers/{rec}"), json!({ "maintenance_mode": true })).await;
    site.agent("rec-1", "recorder").await;
    let (status, answer) =
        site.post(&format!("/api/v1/failovers/{}/failback", entry["id"]), json!({})).await;
    assert_eq!(status, 200, "{answer}");
}

#[tokio::test]
async fn settings_changed_during_the_failover_period_arrive_on_the_repaired_recorder() {
    let mut site = Site::start(Some(1), &[]).await;
    let entry = site.failed_over(json!({ "auto_failback": false })).await;
    // An administrator changes the recorder's settings on the failover server meanwhile.
    let fo = &site.agents["fo-1"];
    let (_, mut bundle) = fo.get("/settings").await;
    bundle["config_files"] =
        json!([{ "name": "site-note.txt", "content": "changed during the failover" }]);
    let (status, changed) = fo.send_json(reqwest::Method::PUT, "/settings", &bundle).await;
    assert_eq!(status, 200, "{changed}");
    let rec = site.server("rec-1").await["id"].clone();
    eventually("the change in the settings cache", || async {
        let cached = site.get(&format!("/api/v1/servers/{rec}/settings")).await;
        cached["bundle"]["config_files"]
            .to_string()
            .contains("changed during the failover")
            .then_some(())
    })
    .await;

    site.agent("rec-1", "recorder").await;
    let (status, answer) =
        site.post(&format!("/api/v1/failovers/{}/failback", entry["id"]), json!({})).await;
    assert_eq!(status, 200, "{answer}");
    let settings = site.agent_get("rec-1", "/api/v1/settings").await;
    assert!(
        settings["config_files"].to_string().contains("changed during the failover"),
        "{settings}"
    );
}

#[tokio::test]
async fn a_manager_killed_at_any_step_of_failback_finishes_it_on_start() {
    for step in ["failback:started", "failback:settings_set", "failback:failover_server_stopped"] {
        let mut site = Site::start(Some(1), &[]).await;
        let entry = site.failed_over(json!({ "auto_failback": false })).await;
        site.agent("rec-1", "recorder").await;
        site.restart_manager(&[("STANDBY_TEST_CRASH_AT", step)]).await;
        let path = format!("/api/v1/failovers/{}/failback", entry["id"]);
        let pressed = site.client.post(site.url(&path)).json(&json!({})).send().await;
        assert!(pressed.is_err(), "{step}: the manager died answering");
        let _ = tokio::time::timeout(Duration::from_secs(30), site.manager.wait()).await;
        site.restart_manager(&[]).await;
        let entry = finalized(&site, &entry["id"]).await;
        assert_failed_back(&site, &entry).await;
        let detail = site.get(&format!("/api/v1/failovers/{}", entry["id"])).await;
        assert!(detail["notes"].to_string().contains("recovered"), "{step}: {detail}");
    }
}
