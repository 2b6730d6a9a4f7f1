//! The material-copy task service against real processes: a repaired recorder copies what a
//! failover server holds for a period, resumes after a SIGKILL of either side from where it
//! stopped, follows the failover server to a new address (UpdateClientInfo) and ends with equal
//! digests on every channel of all six kinds.

use crate::support::*;
use recorder::wire::Record;
use serde_json::{Value, json};

/// The failover period the tests copy: 20 s of 2001, a time no agent records at by itself.
const FROM: i64 = Y2001;
const TO: i64 = Y2001 + 20_000_000;
/// In the order the task copies them: video last, so that "about half" is in its middle.
const CHANNELS: [(&str, &str); 6] = [
    ("audio-1", "audio"),
    ("text-1", "text"),
    ("metadata-1", "metadata"),
    ("anpr-1", "anpr"),
    ("alarm-1", "alarm"),
    ("video-1", "video"),
];
/// One-second slices and 1 MiB/s: the 4 MB of video take about four seconds, long enough to
/// kill a process in the middle of them.
const PACED: &[&str] = &[
    "--video-bitrate-kbps",
    "64",
    "--video-fps",
    "5",
    "--copy-slice",
    "1s",
    "--copy-max-rate",
    "1M",
];

fn temp() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

fn events(start: i64, count: usize, step: i64, payload: impl Fn(usize) -> String) -> Vec<Record> {
    (0..count)
        .map(|i| Record {
            timestamp: start + i as i64 * step,
            sequence: i as u64 + 1,
            origin: "fo-1".into(),
            payload: payload(i).into_bytes(),
        })
        .collect()
}

/// Fills fo-1 with what it would have recorded for rec-1 in the period: every kind, ANPR with a
/// burst of more reads in one slice than one search page holds, some at the same instant.
async fn recorded_on(fo: &Agent) {
    let mut anpr = events(FROM + 2_000_000, 1_200, 500, |i| {
        format!(r#"{{"plate":"AB{i:04}CD","confidence":0.9}}"#)
    });
    anpr.extend(events(FROM + 9_000_000, 3, 0, |i| format!(r#"{{"plate":"SAME{i}"}}"#)));
    for (index, record) in anpr.iter_mut().enumerate() {
        record.sequence = index as u64 + 1;
    }
    let material: [(&str, Vec<Record>); 6] = [
        ("audio-1", records("fo-1", FROM, 400, 50_000, 400)),
        ("text-1", events(FROM, 60, 300_000, |i| format!("Till 1: sale {i}, 4.20 EUR"))),
        ("metadata-1", events(FROM, 200, 100_000, |i| format!(r#"{{"objects":{i}}}"#))),
        ("anpr-1", anpr),
        (
            "alarm-1",
            events(FROM + 500_000, 40, 450_000, |i| {
                format!(r#"{{"alarm_id":1,"state":"{}"}}"#, if i % 2 == 0 { "on" } else { "off" })
            }),
        ),
        ("video-1", records("fo-1", FROM, 200, 100_000, 20_000)),
    ];
    for (channel, records) in material {
        let (status, outcome) = ingest(fo, channel, body(&records)).await;
        assert_eq!(status, 200, "{channel}: {outcome}");
        assert_eq!(outcome["stored"], records.len(), "{channel}: {outcome}");
    }
}

async fn start_copy(rec: &Agent, fo: &Agent) -> Value {
    let request = json!({
        "failover_id": 7,
        "source": granted_source(fo, "rec-1", FROM, TO),
        "recorder": "rec-1",
        "from": time(FROM),
        "to": time(TO),
        "channels": CHANNELS.iter().map(|(id, kind)| json!({ "id": id, "kind": kind })).collect::<Vec<_>>(),
    });
    let (status, task) = rec.send_json(reqwest::Method::POST, "/copy-tasks", &request).await;
    assert_eq!(status, 201, "{task}");
    task
}

async fn task(rec: &Agent, id: &Value) -> Value {
    let (status, task) = rec.get(&format!("/copy-tasks/{id}")).await;
    assert_eq!(status, 200, "{task}");
    task
}

fn channel<'a>(task: &'a Value, id: &str) -> &'a Value {
    task["channels"]
        .as_array()
        .and_then(|channels| channels.iter().find(|channel| channel["channel"] == id))
        .unwrap_or_else(|| panic!("no channel {id} in {task}"))
}

/// How far video-1 has come, in µs from the start of the period (0 before its first slice).
fn video_position(task: &Value) -> i64 {
    channel(task, "video-1")["copied_until"]
        .as_str()
        .map(|text| recorder::time::parse_instant(text).expect("an instant") - FROM)
        .unwrap_or(0)
}

/// Polls the task until `check` holds, returning the task then.
async fn task_until(rec: &Agent, id: &Value, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let started = std::time::Instant::now();
    loop {
        let task = task(rec, id).await;
        assert_ne!(task["status"], "failed", "{task}");
        if check(&task) {
            return task;
        }
        assert!(started.elapsed() < DEADLINE, "timed out waiting until {what}: {task}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Every channel on rec-1 holds exactly what fo-1 recorded in the period.
async fn assert_copied(rec: &Agent, fo: &Agent, done: &Value) {
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(done["error"], Value::Null, "{done}");
    for (id, _) in CHANNELS {
        let theirs = digest(fo, id, FROM, TO, Some("fo-1")).await;
        let ours = digest(rec, id, FROM, TO, Some("fo-1")).await;
        assert!(theirs["count"].as_u64() > Some(0), "{id}: {theirs}");
        assert_eq!(ours, theirs, "channel {id}");
        assert_eq!(channel(done, id)["status"], "done");
        assert_eq!(channel(done, id)["bytes"], theirs["bytes"], "{id}: bytes stored once each");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorder_killed_mid_copy_resumes_where_it_stopped() {
    let dir = temp();
    let fo = Agent::start("fo-1", "recorder", &dir.path().join("fo-1"), LIGHT).await;
    let mut rec = Agent::start("rec-1", "recorder", &dir.path().join("rec-1"), PACED).await;
    recorded_on(&fo).await;
    let id = start_copy(&rec, &fo).await["id"].clone();

    let before = task_until(&rec, &id, "video-1 is about half copied", |task| {
        video_position(task) >= 8_000_000
    })
    .await;
    rec.kill().await;
    // Everything before the kill was saved: the five small channels are done.
    for (name, _) in &CHANNELS[..5] {
        assert_eq!(channel(&before, name)["status"], "done", "{before}");
    }
    let saved = video_position(&before);
    assert!(saved < 20_000_000, "the kill came before the end: {before}");

    rec.restart_elsewhere().await;
    let done = task_until(&rec, &id, "the resumed copy is done", |task| {
        let position = video_position(task);
        assert!(position >= saved, "video-1 went back from {saved} µs to {position} µs: {task}");
        task["status"] == "done"
    })
    .await;
    assert_eq!(video_position(&done), 20_000_000);
    assert_copied(&rec, &fo, &done).await;
    // The restarted recorder started no second task for the same failover.
    let (_, tasks) = rec.get("/copy-tasks").await;
    assert_eq!(tasks.as_array().map(Vec::len), Some(1), "{tasks}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_waits_for_its_failover_server_and_follows_it_to_a_new_address() {
    let dir = temp();
    let mut fo = Agent::start("fo-1", "recorder", &dir.path().join("fo-1"), LIGHT).await;
    let rec = Agent::start("rec-1", "recorder", &dir.path().join("rec-1"), PACED).await;
    recorded_on(&fo).await;
    let id = start_copy(&rec, &fo).await["id"].clone();

    task_until(&rec, &id, "video-1 is a quarter copied", |task| video_position(task) >= 5_000_000)
        .await;
    fo.kill().await;
    let waiting = task_until(&rec, &id, "the task waits for fo-1", |task| {
        task["status"] == "queued"
            && task["error"].as_str().is_some_and(|error| error.contains("fo-1 is not reachable"))
    })
    .await;
    let stopped_at = video_position(&waiting);
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let still = task(&rec, &id).await;
    assert_eq!(video_position(&still), stopped_at, "nothing to copy from while fo-1 is down");
    assert_eq!(still["status"], "queued", "{still}");
    assert_eq!(channel(&still, "video-1")["status"], "queued", "nothing is copying: {still}");

    // fo-1 comes back at the same address: the task goes on by itself.
    fo.restart().await;
    task_until(&rec, &id, "video-1 moves on after fo-1 is back", |task| {
        video_position(task) > stopped_at && video_position(task) >= 12_000_000
    })
    .await;

    // fo-1 dies again and comes back elsewhere: UpdateClientInfo tells the recorder.
    fo.restart_elsewhere().await;
    let moved = json!({ "name": "fo-1", "address": fo.address() });
    let (status, updated) =
        rec.send_json(reqwest::Method::PUT, &format!("/copy-tasks/{id}/client-info"), &moved).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["source"], moved);
    let (status, refusal) = rec
        .send_json(
            reqwest::Method::PUT,
            &format!("/copy-tasks/{id}/client-info"),
            &json!({ "name": "fo-1", "address": "not a url" }),
        )
        .await;
    assert_eq!(status, 400, "{refusal}");

    let done = task_until(&rec, &id, "the copy is done", |task| task["status"] == "done").await;
    assert_copied(&rec, &fo, &done).await;
}
