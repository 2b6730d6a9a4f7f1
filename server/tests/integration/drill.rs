//! Drills with real agents: on a healthy pair the failover server records beside the recorder,
//! the drill passes and nothing it recorded is left; a failover server that cannot record fails
//! the drill at the step that failed; a real failure during a drill cancels it and the failover
//! goes on as if there had been no drill.

use crate::material_copy::{SmallDisk, encode};
use serde_json::{Value, json};
use std::time::Duration;
use testkit::{Site, eventually};

async fn start_drill(site: &Site, recorder: &str, seconds: u32) -> Value {
    let id = site.server(recorder).await["id"].clone();
    let (status, drill) =
        site.post(&format!("/api/v1/servers/{id}/drill"), json!({ "seconds": seconds })).await;
    assert_eq!(status, 202, "{drill}");
    drill
}

async fn ended(site: &Site, drill: &Value) -> Value {
    let path = format!("/api/v1/drills/{}", drill["id"]);
    eventually("the drill ended", || async {
        let now = site.get(&path).await;
        (now["status"] != "running").then_some(now)
    })
    .await
}

async fn acting_for(site: &Site, agent: &str) -> Value {
    site.agent_get(agent, "/api/v1/health").await["acting_for"].clone()
}

/// Records `origin` holds on `agent` of every channel of that agent since `from`.
async fn records_of(site: &Site, agent: &str, origin: &str, from: &str) -> u64 {
    let channels = site.agent_get(agent, "/api/v1/channels").await;
    let to = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let mut total = 0;
    for channel in channels.as_array().expect("channels") {
        let path = format!(
            "/api/v1/channels/{}/digest?from={}&to={}&origin={origin}",
            channel["id"].as_str().expect("id"),
            encode(from),
            encode(&to)
        );
        total += site.agent_get(agent, &path).await["count"].as_u64().unwrap_or(0);
    }
    total
}

#[tokio::test]
async fn a_drill_on_a_healthy_pair_passes_and_leaves_nothing_of_itself_behind() {
    let mut site = Site::start(Some(1), &[]).await;
    site.covered(json!({ "auto_failback": false })).await;
    let rec1_before = records_of(&site, "rec-1", "rec-1", "2000-01-01T00:00:00Z").await;

    let drill = start_drill(&site, "rec-1", 3).await;
    assert_eq!(drill["status"], "running", "{drill}");
    assert_eq!(drill["failover_server"]["name"], "fo-1", "{drill}");
    let started = drill["started_at"].as_str().expect("started_at").to_owned();
    // fo-1 records for rec-1 beside it, and the monitor lets it (it is claimed by the drill).
    eventually("fo-1 records for rec-1", || async { acting_for(&site, "fo-1").await == "rec-1" })
        .await;
    let during = eventually("fo-1's drill material", || async {
        let records = records_of(&site, "fo-1", "fo-1", &started).await;
        (records > 0).then_some(records)
    })
    .await;

    let drill = ended(&site, &drill).await;
    assert_eq!(drill["status"], "passed", "{drill}");
    assert_eq!(drill["step"], Value::Null, "{drill}");
    let message = drill["message"].as_str().expect("message");
    assert!(message.contains("were removed from fo-1"), "{message}");
    // Nothing of the drill is left on fo-1; rec-1 kept recording; no failover happened.
    assert_eq!(records_of(&site, "fo-1", "fo-1", &started).await, 0, "after {during} during");
    assert_eq!(acting_for(&site, "fo-1").await, Value::Null);
    assert!(records_of(&site, "rec-1", "rec-1", "2000-01-01T00:00:00Z").await > rec1_before);
    site.wait_state("fo-1", "standby").await;
    assert_eq!(site.server("rec-1").await["state"], "ok");
    assert!(site.failovers("").await.is_empty(), "a drill is not a failover");
    // In the drill log and the audit trail.
    let log = site.get("/api/v1/drills").await;
    assert_eq!(log[0]["id"], drill["id"], "{log}");
    let audit = site.get("/api/v1/audit?action=drill").await;
    assert_eq!(audit[0]["outcome"], "ok", "{audit}");

    // A second drill at once passes too (the failover server stands by again).
    let again = ended(&site, &start_drill(&site, "rec-1", 2).await).await;
    assert_eq!(again["status"], "passed", "{again}");

    // Two asked for at the same moment: one runs, the other is refused.
    let id = site.server("rec-1").await["id"].clone();
    let path = format!("/api/v1/servers/{id}/drill");
    let (first, second) = futures::join!(
        site.post(&path, json!({ "seconds": 2 })),
        site.post(&path, json!({ "seconds": 2 }))
    );
    let mut statuses = [first.0, second.0];
    statuses.sort_unstable();
    assert_eq!(statuses, [202, 409], "{first:?} {second:?}");
    let refused = if first.0 == 409 { &first.1 } else { &second.1 };
    assert_eq!(refused["error"], "drill_running", "{refused}");
    let running = if first.0 == 202 { &first.1 } else { &second.1 };
    assert_eq!(ended(&site, running).await["status"], "passed");
}

#[tokio::test]
async fn a_failover_server_that_cannot_record_fails_the_drill_at_that_step() {
    let mut site = Site::start(Some(1), &[]).await;
    let Some(disk) = SmallDisk::mount(&site.dir.path().join("fo-1"), "64m") else { return };
    site.covered(json!({ "auto_failback": false })).await;
    disk.fill();

    let drill = ended(&site, &start_drill(&site, "rec-1", 2).await).await;

    assert_eq!(drill["status"], "failed", "{drill}");
    // Told to act, it cannot even write down that it acts: the drill stops at that step, saying
    // why, and the failover server is told to stand by all the same.
    assert_eq!(drill["step"], "start", "{drill}");
    let message = drill["message"].as_str().expect("message");
    assert!(message.contains("fo-1 could not start recording for rec-1"), "{message}");
    assert!(message.contains("disk is full"), "{message}");
    // It stands by again, and readiness still counts on it once its disk is freed.
    disk.free();
    eventually("fo-1 not acting", || async { acting_for(&site, "fo-1").await.is_null() }).await;
    site.wait_state("fo-1", "standby").await;

    // A drill of a recorder that would not be covered fails at readiness, naming why.
    site.kill("fo-1").await;
    site.wait_state("fo-1", "unreachable").await;
    let refused = start_drill(&site, "rec-1", 2).await;
    assert_eq!(refused["status"], "failed", "{refused}");
    assert_eq!(refused["step"], "readiness", "{refused}");
    let message = refused["message"].as_str().expect("message");
    assert!(message.contains("fo-1") && message.contains("unreachable"), "{message}");
}

#[tokio::test]
async fn a_real_failure_during_a_drill_cancels_it_and_fails_over() {
    let mut site = Site::start(Some(1), &[]).await;
    site.covered(json!({ "auto_failback": false })).await;
    let drill = start_drill(&site, "rec-1", 120).await;
    eventually("fo-1 records for rec-1", || async { acting_for(&site, "fo-1").await == "rec-1" })
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;

    site.kill("rec-1").await;

    let entry = eventually("rec-1 failed over", || async {
        site.failovers("?state=active").await.into_iter().find(|entry| entry["status"] == "active")
    })
    .await;
    assert_eq!(entry["failover_server"]["name"], "fo-1", "{entry}");
    let drill = ended(&site, &drill).await;
    assert_eq!(drill["status"], "cancelled", "{drill}");
    let message = drill["message"].as_str().expect("message");
    assert!(message.contains("rec-1 itself failed"), "{message}");
    // fo-1 records for rec-1 now as its failover, and the monitor leaves it so.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(acting_for(&site, "fo-1").await, "rec-1");
    site.wait_state("fo-1", "acting").await;
}

#[tokio::test]
async fn another_recorders_failure_cancels_a_drill_that_holds_its_failover_server() {
    let mut site = Site::start(Some(1), &[]).await;
    site.covered(json!({ "auto_failback": false })).await;
    site.agent_with("rec-2", "recorder", json!({ "auto_failback": false })).await;
    site.wait_state("rec-2", "ok").await;
    site.wait_settings_cached("rec-2").await;
    let drill = start_drill(&site, "rec-1", 120).await;
    eventually("fo-1 records for rec-1", || async { acting_for(&site, "fo-1").await == "rec-1" })
        .await;

    site.kill("rec-2").await;

    let entry = eventually("rec-2 failed over", || async {
        site.failovers("?state=active").await.into_iter().find(|entry| entry["status"] == "active")
    })
    .await;
    assert_eq!(entry["recorder"]["name"], "rec-2", "{entry}");
    assert_eq!(entry["failover_server"]["name"], "fo-1", "{entry}");
    let drill = ended(&site, &drill).await;
    assert_eq!(drill["status"], "cancelled", "{drill}");
    let message = drill["message"].as_str().expect("message");
    assert!(message.contains("rec-2 failed"), "{message}");
    assert_eq!(acting_for(&site, "fo-1").await, "rec-2");
}
