//! The evidence timeline with real agents: after a failover, failback and copy, where each
//! stretch of every channel lives, checked against what the agents themselves hold (digests);
//! a copy caught half-way shows the rest as only on the failover server; a failover server that
//! does not answer is named, never taken as holding nothing.

use crate::material_copy::{PACED, SmallDisk, copied_bytes, copy_done, encode};
use serde_json::{Value, json};
use std::time::Duration;
use testkit::{Site, eventually};

async fn coverage(site: &Site, id: &Value) -> Vec<Value> {
    let answer = site.get(&format!("/api/v1/failovers/{id}/coverage")).await;
    answer.as_array().cloned().unwrap_or_else(|| panic!("not a list: {answer}"))
}

fn channel<'a>(channels: &'a [Value], kind: &str) -> &'a Value {
    channels.iter().find(|c| c["kind"] == kind).unwrap_or_else(|| panic!("no {kind}: {channels:?}"))
}

fn stretches<'a>(channel: &'a Value, place: &str) -> Vec<&'a Value> {
    let all = channel["intervals"].as_array().expect("intervals");
    all.iter().filter(|s| s["where"] == place).collect()
}

async fn count(
    site: &Site,
    agent: &str,
    channel: &str,
    stretch: &Value,
    origin: Option<&str>,
) -> u64 {
    let (from, to) = (stretch["from"].as_str().unwrap(), stretch["to"].as_str().unwrap());
    let origin = origin.map(|o| format!("&origin={o}")).unwrap_or_default();
    let path = format!(
        "/api/v1/channels/{channel}/digest?from={}&to={}{origin}",
        encode(from),
        encode(to)
    );
    let digest = site.agent_get(agent, &path).await;
    digest["count"].as_u64().unwrap_or_else(|| panic!("{digest}"))
}

/// Every channel's stretches follow each other without hole or overlap over one window.
fn assert_seamless(channels: &[Value]) {
    let first = &channels[0]["intervals"];
    let window =
        (first[0]["from"].clone(), first.as_array().unwrap().last().unwrap()["to"].clone());
    for channel in channels {
        let all = channel["intervals"].as_array().expect("intervals");
        assert_eq!(
            (all[0]["from"].clone(), all.last().unwrap()["to"].clone()),
            window,
            "{channel}"
        );
        for pair in all.windows(2) {
            assert_eq!(pair[0]["to"], pair[1]["from"], "{channel}");
            assert_ne!(
                (&pair[0]["where"], &pair[0]["server"]),
                (&pair[1]["where"], &pair[1]["server"]),
                "two stretches alike are one: {channel}"
            );
        }
    }
}

#[tokio::test]
async fn after_failback_and_copy_the_timeline_shows_the_detection_gap_and_agrees_with_the_agents() {
    let mut site = Site::start(Some(1), &[]).await;
    site.covered(json!({ "auto_failback": false })).await;
    // rec-1 records for a while before it dies, and again after failback: both are evidence.
    tokio::time::sleep(Duration::from_secs(3)).await;
    site.kill("rec-1").await;
    let entry = eventually("rec-1 failed over", || async {
        site.failovers("?state=active").await.into_iter().find(|entry| entry["status"] == "active")
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    site.agent("rec-1", "recorder").await;
    let (status, answer) =
        site.post(&format!("/api/v1/failovers/{}/failback", entry["id"]), json!({})).await;
    assert_eq!(status, 200, "{answer}");
    let id = &entry["id"];
    copy_done(&site, id).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let channels = coverage(&site, id).await;
    let settings = site.get(&format!("/api/v1/servers/{}/settings", entry["recorder"]["id"])).await;
    let configured = settings["bundle"]["channels"].as_array().map(Vec::len);
    assert_eq!(Some(channels.len()), configured, "every channel of the recorder: {settings}");
    assert_seamless(&channels);
    for channel in &channels {
        assert!(channel["unanswered"].as_array().unwrap().is_empty(), "{channel}");
        assert!(stretches(channel, "failover_server").is_empty(), "all copied: {channel}");
    }
    for kind in ["video", "audio"] {
        let channel = channel(&channels, kind);
        let id = channel["channel"].as_str().unwrap();
        let places: Vec<&str> = channel["intervals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["where"].as_str().unwrap())
            .collect();
        // The window opens 10 s before the failover, when rec-1 may not have been set up yet.
        let places = places.strip_prefix(&["missing"][..]).unwrap_or(&places);
        // rec-1 recorded, died, fo-1 took over after detection (a hole where frames were due
        // and none was made; none when fo-1's first frame came within one frame's time), and
        // rec-1 got its cameras back at failback with no hole (it records before fo-1 stops).
        let entry = site.get(&format!("/api/v1/failovers/{id}")).await;
        let expected: &[&str] = if places.len() == 4 {
            &["recorder", "missing", "copied", "recorder"]
        } else {
            &["recorder", "copied", "recorder"]
        };
        assert_eq!(places, expected, "{channel}\n{entry}");
        for gap in stretches(channel, "missing")
            .into_iter()
            .filter(|gap| gap["from"] != channel["intervals"][0]["from"])
        {
            let ms = (chrono_of(&gap["to"]) - chrono_of(&gap["from"])).num_milliseconds();
            assert!(ms < 10_000, "the detection gap, honestly: {gap}");
            // Nothing of the gap is anywhere.
            assert_eq!(count(&site, "rec-1", id, gap, None).await, 0, "{gap}");
            assert_eq!(count(&site, "fo-1", id, gap, None).await, 0, "{gap}");
        }
        // What is shown as copied is on the recorder exactly as fo-1 recorded it.
        for copied in stretches(channel, "copied") {
            assert_eq!(copied["server"], "fo-1");
            let on_recorder = count(&site, "rec-1", id, copied, Some("fo-1")).await;
            assert!(on_recorder > 0, "{copied}");
            assert_eq!(
                on_recorder,
                count(&site, "fo-1", id, copied, Some("fo-1")).await,
                "{copied}"
            );
            assert_eq!(count(&site, "rec-1", id, copied, Some("rec-1")).await, 0, "{copied}");
        }
        for own in stretches(channel, "recorder") {
            assert_eq!(own["server"], "rec-1");
            assert!(count(&site, "rec-1", id, own, Some("rec-1")).await > 0, "{own}");
        }
    }

    let response = site
        .client
        .get(site.url(&format!("/api/v1/failovers/{id}/coverage.csv")))
        .send()
        .await
        .expect("the CSV");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    let text = response.text().await.expect("text");
    let lines: usize = channels.iter().map(|c| c["intervals"].as_array().unwrap().len()).sum();
    assert_eq!(text.lines().count(), lines + 1, "{text}");
    assert!(text.starts_with("channel,kind,from,to,seconds,where,server\n"), "{text}");
    assert!(text.contains(",missing,\n"), "{text}");
}

fn chrono_of(value: &Value) -> chrono::DateTime<chrono::Utc> {
    value
        .as_str()
        .and_then(|text| text.parse().ok())
        .unwrap_or_else(|| panic!("not a time: {value}"))
}

#[tokio::test]
async fn a_copy_stopped_half_way_shows_the_rest_only_on_the_failover_server_and_a_silent_one_is_named()
 {
    let mut site = Site::start(Some(1), &[]).await;
    let Some(disk) = SmallDisk::mount(&site.dir.path().join("rec-1"), "64m") else { return };
    site.agent_args = PACED.map(String::from).to_vec();
    let entry = site.failed_over(json!({ "auto_failback": false })).await;
    let id = &entry["id"];
    tokio::time::sleep(Duration::from_secs(3)).await;
    site.agent("rec-1", "recorder").await;
    let (status, answer) = site.post(&format!("/api/v1/failovers/{id}/failback"), json!({})).await;
    assert_eq!(status, 200, "{answer}");
    eventually("a first part is copied", || async {
        let entry = site.get(&format!("/api/v1/failovers/{id}")).await;
        (copied_bytes(&entry) > 300_000).then_some(())
    })
    .await;
    // rec-1's disk fills up: the copy stops where it is (and waits), so what the timeline says
    // can be checked against the agents at leisure.
    disk.fill();
    eventually("the copy stopped for the full disk", || async {
        let entry = site.get(&format!("/api/v1/failovers/{id}")).await;
        let error = entry["copy"]["error"].as_str().unwrap_or_default().to_owned();
        (error.contains("No space left on device") && entry["copy"]["status"] != "done")
            .then_some(())
    })
    .await;
    let channels = coverage(&site, id).await;
    assert_seamless(&channels);
    // Channels are copied a slice at a time: some are done, the rest only on fo-1 so far.
    let copied = channels.iter().filter(|c| !stretches(c, "copied").is_empty()).count();
    let waiting: Vec<&Value> =
        channels.iter().filter(|c| !stretches(c, "failover_server").is_empty()).collect();
    assert!(copied > 0 && !waiting.is_empty(), "half-way: {channels:?}");
    for channel in waiting {
        let id = channel["channel"].as_str().unwrap();
        for stretch in stretches(channel, "failover_server") {
            assert_eq!(stretch["server"], "fo-1");
            assert!(count(&site, "fo-1", id, stretch, Some("fo-1")).await > 0, "{stretch}");
            assert_eq!(count(&site, "rec-1", id, stretch, Some("fo-1")).await, 0, "{stretch}");
        }
    }
    let video = channel(&channels, "video").clone();

    // fo-1 goes away: the timeline says it could not ask, and shows the rest as missing.
    site.kill("fo-1").await;
    let channels = eventually("fo-1 named as not answering", || async {
        let channels = coverage(&site, id).await;
        channels.iter().all(|c| !c["unanswered"].as_array().unwrap().is_empty()).then_some(channels)
    })
    .await;
    let after = channel(&channels, "video");
    assert_eq!(after["unanswered"][0]["server"], "fo-1", "{after}");
    assert!(channels.iter().all(|c| stretches(c, "failover_server").is_empty()), "{channels:?}");
    assert_eq!(stretches(after, "copied"), stretches(&video, "copied"), "what was copied stays");
    drop(site);
    drop(disk);
}

#[tokio::test]
async fn the_timeline_of_no_entry_is_a_404() {
    let site = Site::start(Some(1), &[]).await;
    let response =
        site.client.get(site.url("/api/v1/failovers/999/coverage")).send().await.expect("answer");
    assert_eq!(response.status(), 404);
}
