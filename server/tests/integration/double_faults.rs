//! Double faults with real agents: the failover server acting for a dead recorder dies too.

use crate::material_copy::{assert_digests_equal, copy_done, entry};
use serde_json::{Value, json};
use std::time::Duration;
use testkit::netns::Host;
use testkit::process::Place;
use testkit::{Site, eventually};

/// rec-1 (manual failback) failed over to one of fo-1 and fo-2; returns the entry and the name
/// of the failover server acting, and of the one standing by.
async fn failed_over_with_two_failover_servers(site: &mut Site) -> (Value, String, String) {
    site.agent_with("rec-1", "recorder", json!({ "auto_failback": false })).await;
    site.agent("fo-1", "failover").await;
    site.agent("fo-2", "failover").await;
    site.wait_state("rec-1", "ok").await;
    site.wait_state("fo-1", "standby").await;
    site.wait_state("fo-2", "standby").await;
    site.wait_settings_cached("rec-1").await;
    site.kill("rec-1").await;
    let first = active_entry(site, None).await;
    let acting = first["failover_server"]["name"].as_str().unwrap().to_owned();
    let other = if acting == "fo-1" { "fo-2" } else { "fo-1" }.to_owned();
    (first, acting, other)
}

/// rec-1's active entry (other than `not`).
async fn active_entry(site: &Site, not: Option<&Value>) -> Value {
    eventually("an active failover of rec-1", || async {
        site.failovers("?state=active").await.into_iter().find(|entry| {
            entry["recorder"]["name"] == "rec-1"
                && entry["status"] == "active"
                && not.is_none_or(|id| entry["id"] != *id)
        })
    })
    .await
}

fn note_codes(entry: &Value) -> Vec<String> {
    let notes = entry["notes"].as_array().cloned().unwrap_or_default();
    notes.iter().filter_map(|note| note["code"].as_str().map(str::to_owned)).collect()
}

#[tokio::test]
async fn a_failover_server_that_dies_while_acting_hands_the_recorder_to_the_next_one() {
    let mut site = Site::start(Some(2), &[]).await;
    let (first, lost, next) = failed_over_with_two_failover_servers(&mut site).await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    // The acting failover server dies too: rec-1's cameras move on to the other one.
    site.kill(&lost).await;
    let second = active_entry(&site, Some(&first["id"])).await;
    assert_eq!(second["failover_server"]["name"], next.as_str(), "{second}");
    let closed = entry(&site, &first["id"]).await;
    assert_eq!(
        (&closed["status"], &closed["failback_trigger"]),
        (&json!("finalized"), &json!("superseded")),
        "{closed}"
    );
    assert!(note_codes(&closed).contains(&"failover_server_lost".to_owned()), "{closed}");
    assert!(note_codes(&closed).contains(&"failover_moved_on".to_owned()), "{closed}");
    let continuing = entry(&site, &second["id"]).await;
    assert!(note_codes(&continuing).contains(&"failover_continues".to_owned()), "{continuing}");
    assert_eq!(site.server("rec-1").await["state"], "broken");
    let health = site.agent_get(&next, "/api/v1/health").await;
    assert_eq!(health["acting_for"], "rec-1", "{health}");
    tokio::time::sleep(Duration::from_secs(2)).await;

    // The lost failover server comes back (it remembers acting for rec-1): it is told to stop,
    // and keeps what it recorded.
    site.agent(&lost, "failover").await;
    eventually("the returned failover server stands by", || async {
        let health = site.agent_get(&lost, "/api/v1/health").await;
        let server = site.server(&lost).await;
        (health["acting_for"].is_null() && server["state"] == "standby").then_some(())
    })
    .await;
    assert_eq!(site.failovers("?state=active").await.len(), 1, "one failover of rec-1 is open");

    // Failback from the current failover server; then both legs' material is copied home.
    site.agent("rec-1", "recorder").await;
    let (status, answer) =
        site.post(&format!("/api/v1/failovers/{}/failback", second["id"]), json!({})).await;
    assert_eq!(status, 200, "{answer}");
    let second_done = copy_done(&site, &second["id"]).await;
    assert_digests_equal(&site, &second_done, &next).await;
    let first_done = copy_done(&site, &first["id"]).await;
    assert_digests_equal(&site, &first_done, &lost).await;
}

#[tokio::test]
async fn with_no_failover_server_left_the_failover_waits_said_once_and_takes_the_next_free_one() {
    let mut site = Site::start(Some(2), &[]).await;
    site.covered(json!({ "auto_failback": false })).await;
    site.kill("rec-1").await;
    let first = active_entry(&site, None).await;

    // Its failover server dies too, and no other is free: the entry says so, once.
    site.kill("fo-1").await;
    let lost = |entry: &Value| {
        let codes = note_codes(entry);
        codes.iter().filter(|code| *code == "failover_server_lost").count()
    };
    let waiting = eventually("the entry says its failover server is lost", || async {
        let entry = entry(&site, &first["id"]).await;
        (lost(&entry) > 0).then_some(entry)
    })
    .await;
    assert_eq!(waiting["status"], "active", "the leg stays open: {waiting}");
    let message = waiting["notes"].to_string();
    assert!(message.contains("no other failover server is free"), "{message}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(lost(&entry(&site, &first["id"]).await), 1, "said once, not every round");
    assert_eq!(site.server("rec-1").await["state"], "broken");

    // A failover server comes: rec-1's cameras move to it, and the first leg ends.
    site.agent("fo-2", "failover").await;
    let second = active_entry(&site, Some(&first["id"])).await;
    assert_eq!(second["failover_server"]["name"], "fo-2");
    let closed = entry(&site, &first["id"]).await;
    assert_eq!(closed["failback_trigger"], "superseded", "{closed}");
    assert_eq!(site.server("rec-1").await["state"], "broken");
    let health = site.agent_get("fo-2", "/api/v1/health").await;
    assert_eq!(health["acting_for"], "rec-1", "{health}");
}

#[tokio::test]
async fn a_repaired_recorder_whose_failover_server_is_gone_is_restored_and_its_material_follows() {
    let mut site = Site::start(Some(1), &[]).await;
    let entry_before = site.failed_over(json!({ "auto_failback": false })).await;
    let id = &entry_before["id"];
    let restore = format!("/api/v1/failovers/{id}/restore");
    // While the failover server records for it, failback is the way back, not restore.
    let (status, refusal) = site.post(&restore, json!({})).await;
    assert_eq!((status, &refusal["error"]), (409, &json!("failover_server_still_acting")));
    tokio::time::sleep(Duration::from_secs(2)).await;

    // The failover server dies; the recorder is repaired meanwhile.
    site.kill("fo-1").await;
    eventually("the entry says its failover server is lost", || async {
        let entry = entry(&site, id).await;
        note_codes(&entry).contains(&"failover_server_lost".to_owned()).then_some(())
    })
    .await;
    site.agent("rec-1", "recorder").await;
    let (status, refusal) = site.post(&format!("/api/v1/failovers/{id}/failback"), json!({})).await;
    assert_eq!((status, &refusal["error"]), (409, &json!("failover_server_wrong_state")));

    // The way out: restore.
    let (status, answer) = site.post(&restore, json!({})).await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer["duration_ms"].is_i64(), "{answer}");
    let restored = entry(&site, id).await;
    assert_eq!(
        (&restored["status"], &restored["failback_trigger"]),
        (&json!("finalized"), &json!("restored")),
        "{restored}"
    );
    assert!(note_codes(&restored).contains(&"restored".to_owned()), "{restored}");
    assert_eq!(site.server("rec-1").await["state"], "ok");
    assert_eq!(site.agent_get("rec-1", "/api/v1/health").await["recording"], true);
    let audit = site.get("/api/v1/audit?action=restore").await;
    assert_eq!(audit[0]["outcome"], "ok", "{audit}");
    let (status, refusal) = site.post(&restore, json!({})).await;
    assert_eq!((status, &refusal["error"]), (409, &json!("failback_already_performed")));

    // Its material waits for the failover server, and is copied once it is back (which is
    // told to stop acting for a recorder that records for itself again).
    eventually("the copy waits for fo-1", || async {
        let entry = entry(&site, id).await;
        let error = entry["copy"]["error"].as_str().unwrap_or_default().to_owned();
        error.contains("fo-1").then_some(())
    })
    .await;
    site.agent("fo-1", "failover").await;
    let done = copy_done(&site, id).await;
    assert_digests_equal(&site, &done, "fo-1").await;
    eventually("fo-1 stands by", || async {
        (site.server("fo-1").await["state"] == "standby").then_some(())
    })
    .await;
}

/// Digest of rec-1's records of `channel` in the entry's failover period, from `origin` (all
/// origins when `None`), as rec-1 holds them.
async fn count_on_rec_1(site: &Site, entry: &Value, channel: &str, origin: Option<&str>) -> i64 {
    let encode = |text: &str| text.replace('+', "%2B").replace(':', "%3A");
    let from = encode(entry["failover_started_at"].as_str().unwrap());
    let to = encode(entry["failback_finished_at"].as_str().unwrap());
    let origin = origin.map(|origin| format!("&origin={origin}")).unwrap_or_default();
    let path = format!("/api/v1/channels/{channel}/digest?from={from}&to={to}{origin}");
    site.agent_get("rec-1", &path).await["count"].as_i64().unwrap()
}

#[tokio::test]
async fn a_partitioned_recorder_that_records_on_is_failed_over_and_merged_without_duplicates() {
    let Some(host) = Host::new() else { return };
    let mut site = Site::start(Some(1), &[]).await;
    // rec-1 on a host of its own; fo-1 where both the manager and rec-1 reach it (rec-1 pulls
    // the copy from it), which a cut of rec-1's link leaves alone.
    site.places
        .insert("rec-1".into(), Place { ip: host.ip.clone(), netns: Some(host.name.clone()) });
    site.places.insert("fo-1".into(), Place { ip: host.host_ip.clone(), netns: None });
    site.covered(json!({ "auto_failback": false })).await;

    // The link to rec-1 is cut; rec-1 itself goes on recording. The manager cannot tell a
    // partition from a death: it fails rec-1 over, and both record the same cameras.
    host.cut();
    let entry = active_entry(&site, None).await;
    assert_eq!(entry["failover_server"]["name"], "fo-1");
    tokio::time::sleep(Duration::from_secs(2)).await;

    // The link is back: rec-1 answers, broken in the manager's eyes and recording.
    host.heal();
    let time = |value: &Value| {
        value.as_str().and_then(|text| chrono::DateTime::parse_from_rfc3339(text).ok())
    };
    let failed_over = time(&entry["failover_finished_at"]).expect("the failover's end");
    eventually("rec-1 seen again after its failover", || async {
        let server = site.server("rec-1").await;
        let seen = time(&server["last_seen_at"]);
        (server["state"] == "broken" && seen.is_some_and(|seen| seen > failed_over)).then_some(())
    })
    .await;
    assert_eq!(site.agent_get("rec-1", "/api/v1/health").await["recording"], true);
    let back = eventually("the entry says rec-1 is back and recorded meanwhile", || async {
        let now = self::entry(&site, &entry["id"]).await;
        note_codes(&now).contains(&"recorder_back".to_owned()).then_some(now)
    })
    .await;
    assert!(back["notes"].to_string().contains("recorded meanwhile"), "{back}");
    let (status, answer) =
        site.post(&format!("/api/v1/failovers/{}/failback", entry["id"]), json!({})).await;
    assert_eq!(status, 200, "{answer}");

    // What fo-1 recorded is copied in beside what rec-1 recorded itself: each once.
    let done = copy_done(&site, &entry["id"]).await;
    assert_digests_equal(&site, &done, "fo-1").await;
    let own = count_on_rec_1(&site, &done, "video-1", Some("rec-1")).await;
    let copied = count_on_rec_1(&site, &done, "video-1", Some("fo-1")).await;
    let all = count_on_rec_1(&site, &done, "video-1", None).await;
    assert!(own > 0 && copied > 0, "both recorded the period: own {own}, copied {copied}");
    assert_eq!(all, own + copied, "no record twice");
    drop(site);
}
