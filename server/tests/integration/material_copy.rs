//! Material copying from the failover period with real agents: after failback the repaired
//! recorder copies what the failover server recorded for it, verified by digests; started
//! automatically or by hand; re-synchronised after a manager restart.

use serde_json::{Value, json};
use std::time::Duration;
use testkit::Site;
use testkit::eventually;

pub(crate) async fn entry(site: &Site, id: &Value) -> Value {
    site.get(&format!("/api/v1/failovers/{id}")).await
}

pub(crate) async fn copy_done(site: &Site, id: &Value) -> Value {
    eventually("material copying done", || async {
        let entry = entry(site, id).await;
        assert_ne!(entry["copy"]["status"], "failed", "{entry}");
        (entry["copy"]["status"] == "done").then_some(entry)
    })
    .await
}

/// Fails rec-1 over to fo-1, lets fo-1 record for a while, brings rec-1 back and fails back.
async fn failed_over_and_back(site: &mut Site, recorder: Value) -> Value {
    let entry = site.failed_over(recorder).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    site.agent("rec-1", "recorder").await;
    let (status, answer) =
        site.post(&format!("/api/v1/failovers/{}/failback", entry["id"]), json!({})).await;
    assert_eq!(status, 200, "{answer}");
    entry
}

/// Every copied channel holds exactly what the failover server `source` recorded in the
/// entry's period.
pub(crate) async fn assert_digests_equal(site: &Site, entry: &Value, source: &str) {
    let from = entry["failover_started_at"].as_str().unwrap();
    let to = entry["failback_finished_at"].as_str().unwrap();
    let channels = entry["copy"]["channels"].as_array().unwrap();
    let kinds: std::collections::BTreeSet<_> =
        channels.iter().map(|channel| channel["kind"].as_str().unwrap()).collect();
    for kind in ["audio", "video", "text", "metadata", "anpr", "alarm"] {
        assert!(kinds.contains(kind), "no {kind} channel copied: {kinds:?}");
    }
    for channel in channels {
        assert_eq!(channel["status"], "done", "{channel}");
        let id = channel["channel"].as_str().unwrap();
        let path = format!(
            "/api/v1/channels/{id}/digest?from={}&to={}&origin={source}",
            encode(from),
            encode(to)
        );
        let (on_failover, on_recorder) =
            (site.agent_get(source, &path).await, site.agent_get("rec-1", &path).await);
        assert_eq!(on_failover, on_recorder, "channel {id}");
        if channel["kind"] == "video" {
            assert!(
                on_failover["count"].as_i64().unwrap() > 0,
                "{source} recorded video for rec-1: {on_failover}"
            );
        }
    }
}

#[tokio::test]
async fn after_failback_the_failover_period_is_copied_home_and_verified() {
    let mut site = Site::start(Some(1), &[]).await;
    let entry = failed_over_and_back(&mut site, json!({ "auto_failback": false })).await;
    let done = copy_done(&site, &entry["id"]).await;
    assert_digests_equal(&site, &done, "fo-1").await;
    let notes = done["notes"].to_string();
    assert!(notes.contains("copy_queued") && notes.contains("copy_done"), "{notes}");
    // StartDataCopy twice for the same failover: one task on the recorder.
    let rec = &site.agents["rec-1"];
    let (_, tasks) = rec.get(&format!("/copy-tasks?failover_id={}", entry["id"])).await;
    let task = tasks[0].clone();
    assert_eq!(task["source"].get("grant"), None, "a task never shows its grant: {task}");
    assert_eq!(tasks.as_array().map(Vec::len), Some(1), "{tasks}");
    let again = json!({
        "failover_id": entry["id"], "source": task["source"], "recorder": "rec-1",
        "from": task["from"], "to": task["to"], "channels": [],
    });
    let (status, repeated) = rec.send_json(reqwest::Method::POST, "/copy-tasks", &again).await;
    assert_eq!(status, 200, "{repeated}");
    assert_eq!(repeated["id"], task["id"]);
    let (_, all) = rec.get("/copy-tasks").await;
    assert_eq!(all.as_array().map(Vec::len), Some(1), "{all}");
    // Nothing left to copy.
    let (status, refusal) =
        site.post(&format!("/api/v1/failovers/{}/material-copy", entry["id"]), json!({})).await;
    assert_eq!((status, &refusal["error"]), (409, &json!("already_copied")));
}

#[tokio::test]
async fn copying_by_hand_is_refused_before_failback_and_works_after() {
    let mut site = Site::start(Some(1), &[]).await;
    let entry =
        site.failed_over(json!({ "auto_failback": false, "copy_after_failback": false })).await;
    let path = format!("/api/v1/failovers/{}/material-copy", entry["id"]);
    let (status, refusal) = site.post(&path, json!({})).await;
    assert_eq!((status, &refusal["error"]), (409, &json!("failback_not_performed")));

    tokio::time::sleep(Duration::from_secs(2)).await;
    site.agent("rec-1", "recorder").await;
    let (status, _) =
        site.post(&format!("/api/v1/failovers/{}/failback", entry["id"]), json!({})).await;
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        entry_status(&site, &entry["id"]).await,
        "not_started",
        "the server's setting said not to copy"
    );

    let (status, started) = site.post(&path, json!({})).await;
    assert_eq!(status, 202, "{started}");
    let done = copy_done(&site, &entry["id"]).await;
    assert_digests_equal(&site, &done, "fo-1").await;
}

#[tokio::test]
async fn a_manager_restarted_mid_copy_brings_the_copy_states_back() {
    let (mut site, entry, copying) = copy_under_way().await;
    // The manager dies (SIGKILL) mid-copy; the recorder copies on, and the restarted manager
    // picks the states up where the log left them.
    site.restart_manager(&[]).await;
    let after = self::entry(&site, &entry["id"]).await;
    assert_ne!(after["copy"]["status"], "not_started", "{after}");
    assert!(copied_bytes(&after) >= copied_bytes(&copying), "{copying}\n{after}");
    let done = copy_done(&site, &entry["id"]).await;
    assert_digests_equal(&site, &done, "fo-1").await;
}

#[tokio::test]
async fn a_copy_waits_for_a_dead_failover_server_and_follows_it_to_its_new_address() {
    let (mut site, entry, _) = copy_under_way().await;
    let id = &entry["id"];
    site.kill("fo-1").await;
    let waiting = eventually("the log says why the copy waits", || async {
        let entry = self::entry(&site, id).await;
        let error = entry["copy"]["error"].as_str().unwrap_or_default().to_owned();
        (entry["copy"]["status"] == "queued" && error.contains("fo-1 is not reachable"))
            .then_some(entry)
    })
    .await;
    assert!(waiting["notes"].to_string().contains("copy_waiting"), "{waiting}");

    // fo-1 comes back at another address; the administrator says so and the manager tells the
    // recorder (UpdateClientInfo).
    let address = site.agent_moved("fo-1", "failover").await;
    let fo = site.server("fo-1").await;
    let (status, moved) =
        site.patch(&format!("/api/v1/servers/{}", fo["id"]), json!({ "address": address })).await;
    assert_eq!(status, 200, "{moved}");
    let done = copy_done(&site, id).await;
    assert_eq!(done["copy"]["error"], Value::Null, "{done}");
    assert_digests_equal(&site, &done, "fo-1").await;
    let (_, tasks) = site.agents["rec-1"].get("/copy-tasks").await;
    assert_eq!(tasks[0]["source"]["address"], address, "{tasks}");
}

/// Paced copying (one-second slices at 1 MiB/s): the few MB of a test's failover period take
/// seconds, so a process can be killed while the copy runs.
pub(crate) const PACED: [&str; 4] = ["--copy-slice", "1s", "--copy-max-rate", "1M"];

pub(crate) fn copied_bytes(entry: &Value) -> i64 {
    let channels = entry["copy"]["channels"].as_array().cloned().unwrap_or_default();
    channels.iter().filter_map(|channel| channel["bytes"].as_i64()).sum()
}

/// A paced copy after failback, running with a first part done: the site, the entry as the
/// failover left it, and the entry then.
pub(crate) async fn copy_under_way() -> (Site, Value, Value) {
    let mut site = Site::start(Some(1), &[]).await;
    site.agent_args = PACED.map(String::from).to_vec();
    let entry = failed_over_and_back(&mut site, json!({ "auto_failback": false })).await;
    let copying = eventually("a first part is copied", || async {
        let entry = self::entry(&site, &entry["id"]).await;
        (copied_bytes(&entry) > 500_000 && entry["copy"]["status"] == "copying").then_some(entry)
    })
    .await;
    (site, entry, copying)
}

async fn entry_status(site: &Site, id: &Value) -> String {
    entry(site, id).await["copy"]["status"].as_str().unwrap_or_default().to_owned()
}

pub(crate) fn encode(text: &str) -> String {
    text.replace('+', "%2B").replace(':', "%3A")
}

/// A size-limited tmpfs mounted over a directory for the length of a test (root only).
pub(crate) struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    /// `None` (with the reason printed) where mounting is not permitted; never so in CI.
    pub(crate) fn mount(at: &std::path::Path, size: &str) -> Option<SmallDisk> {
        std::fs::create_dir_all(at).expect("the mount point");
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .output();
        match mounted {
            Ok(output) if output.status.success() => Some(SmallDisk(at.to_owned())),
            other => {
                let why = format!("cannot mount a tmpfs at {}: {other:?}", at.display());
                assert!(std::env::var_os("CI").is_none(), "{why}");
                eprintln!("skipped: {why}");
                None
            }
        }
    }

    /// Fills the disk to the last byte; the filler is removed by [`SmallDisk::free`].
    pub(crate) fn fill(&self) {
        use std::io::Write;
        let mut filler = std::fs::File::create(self.0.join("filler")).expect("create the filler");
        let block = vec![0u8; 64 * 1024];
        while filler.write_all(&block).is_ok() {}
        let _ = filler.write_all(&[0u8; 512]);
        let _ = filler.sync_all();
    }

    pub(crate) fn free(&self) {
        std::fs::remove_file(self.0.join("filler")).expect("remove the filler");
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[tokio::test]
async fn a_full_disk_on_the_recorder_stops_the_copy_with_the_reason_and_it_resumes_once_freed() {
    let mut site = Site::start(Some(1), &[]).await;
    let Some(disk) = SmallDisk::mount(&site.dir.path().join("rec-1"), "64m") else { return };
    let entry =
        site.failed_over(json!({ "auto_failback": false, "copy_after_failback": false })).await;
    let id = &entry["id"];
    tokio::time::sleep(Duration::from_secs(2)).await;
    site.agent("rec-1", "recorder").await;
    let (status, answer) = site.post(&format!("/api/v1/failovers/{id}/failback"), json!({})).await;
    assert_eq!(status, 200, "{answer}");

    // The recorder's disk is full when the copy starts: it stops, saying why.
    disk.fill();
    let (status, started) =
        site.post(&format!("/api/v1/failovers/{id}/material-copy"), json!({})).await;
    assert_eq!(status, 202, "{started}");
    let waiting = eventually("the log says the recorder's disk is full", || async {
        let entry = self::entry(&site, id).await;
        let error = entry["copy"]["error"].as_str().unwrap_or_default().to_owned();
        error.contains("No space left on device").then_some(entry)
    })
    .await;
    assert_ne!(waiting["copy"]["status"], "done", "{waiting}");
    assert!(waiting["notes"].to_string().contains("copy_waiting"), "{waiting}");

    // Space is freed: the copy goes on by itself, and what it holds is what fo-1 recorded.
    disk.free();
    let done = copy_done(&site, id).await;
    assert_eq!(done["copy"]["error"], Value::Null, "{done}");
    assert_digests_equal(&site, &done, "fo-1").await;
    assert_eq!(site.agent_get("rec-1", "/api/v1/health").await["recording"], true);
    drop(site);
    drop(disk);
}
