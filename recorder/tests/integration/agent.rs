//! Integration tests against real `standby-recorder` processes.

use crate::support::{self, *};
use recorder::time::now_micros;
use reqwest::Method;
use serde_json::{Value, json};

fn temp() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_settings_and_channels_of_a_fresh_recorder() {
    let dir = temp();
    let agent = Agent::start("rec-1", "recorder", &dir.path().join("rec-1"), LIGHT).await;
    let (status, health) = agent.get("/health").await;
    assert_eq!(status, 200);
    assert_eq!(health["name"], "rec-1");
    assert_eq!(health["kind"], "recorder");
    assert_eq!(health["acting_for"], Value::Null);
    let (_, settings) = agent.get("/settings").await;
    assert_eq!(settings["version"], 1);
    let (_, channels) = agent.get("/channels").await;
    let kinds: Vec<&str> =
        channels.as_array().expect("list").iter().filter_map(|c| c["kind"].as_str()).collect();
    for kind in ["audio", "video", "text", "metadata", "anpr", "alarm"] {
        assert!(kinds.contains(&kind), "default channels include {kind}: {channels}");
    }
    // Replacing the settings bumps the version and changes what is recorded at once.
    let mut bundle = settings.clone();
    bundle["channels"]
        .as_array_mut()
        .expect("channels")
        .push(json!({"id": "mic-lobby", "kind": "audio"}));
    let (status, replaced) =
        agent.send_json(Method::PUT, "/settings?expected_version=1", &bundle).await;
    assert_eq!(status, 200, "{replaced}");
    assert_eq!(replaced["version"], 2);
    assert_eq!(agent.get("/settings").await.1, replaced);
    assert_eq!(agent.get("/health").await.1["settings_version"], 2);
    let since = now_micros() - 1;
    eventually("the new channel records", || async {
        count(&agent, "mic-lobby", since, now_micros() + HOUR, Some("rec-1")).await > 0
    })
    .await;
    let (status, _) = agent.send_json(Method::PUT, "/settings?expected_version=1", &bundle).await;
    assert_eq!(status, 409, "stale version");
    let (status, openapi) = agent.get("/openapi.json").await;
    assert_eq!(status, 200);
    assert!(openapi["paths"]["/api/v1/channels/{id}/digest"].is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_the_archive_and_resumes_recording() {
    let dir = temp();
    let mut agent = Agent::start("rec-1", "recorder", &dir.path().join("rec-1"), LIGHT).await;
    let copied = records("fo-1", Y2001, 300, 1_000, 500);
    let (status, outcome) = ingest(&agent, "video-1", body(&copied)).await;
    assert_eq!(status, 200, "{outcome}");
    let started = now_micros() - HOUR;
    eventually("the recorder has recorded video", || async {
        count(&agent, "video-1", started, now_micros() + HOUR, Some("rec-1")).await > 5
    })
    .await;
    let cut = now_micros();
    let copied_digest = digest(&agent, "video-1", Y2001, Y2001 + HOUR, None).await;
    let recorded_before = playback(&agent, "video-1", started, cut, None).await;
    assert_eq!(agent.terminate().await.code(), Some(0), "graceful stop");

    agent.restart_elsewhere().await;
    assert_eq!(digest(&agent, "video-1", Y2001, Y2001 + HOUR, None).await, copied_digest);
    let recorded_after = playback(&agent, "video-1", started, cut, None).await;
    for record in &recorded_before {
        assert!(
            recorded_after.contains(record),
            "record at {} survived the restart",
            record.timestamp
        );
    }
    let restarted = now_micros();
    eventually("recording resumes after the restart", || async {
        count(&agent, "video-1", restarted, now_micros() + HOUR, Some("rec-1")).await > 0
    })
    .await;
    // Sequence numbers continue rather than restart.
    let later = playback(&agent, "video-1", restarted, now_micros() + HOUR, Some("rec-1")).await;
    let before_max = recorded_after
        .iter()
        .filter(|r| r.origin == "rec-1")
        .map(|r| r.sequence)
        .max()
        .unwrap_or(0);
    assert!(later.iter().all(|r| r.sequence > before_max));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_recording_keeps_every_complete_record() {
    let dir = temp();
    let data_dir = dir.path().join("rec-1");
    // Full-rate video, so the kill lands among writes.
    let mut agent = Agent::start("rec-1", "recorder", &data_dir, &[]).await;
    let started = now_micros() - HOUR;
    eventually("video is being recorded", || async {
        count(&agent, "video-1", started, now_micros() + HOUR, None).await > 20
    })
    .await;
    let mut before = Vec::new();
    for channel in ["video-1", "audio-1", "metadata-1"] {
        before.push(playback(&agent, channel, started, now_micros() + HOUR, None).await);
    }
    agent.kill().await;

    // Make sure a torn record is there to repair: half a record appended to the newest segment.
    let segment_dir = data_dir.join("archive").join("video-1");
    let mut segments: Vec<_> = std::fs::read_dir(&segment_dir)
        .expect("list segments")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "rec"))
        .collect();
    segments.sort();
    let newest = segments.last().expect("a segment");
    let torn = recorder::wire::Record {
        timestamp: now_micros() + HOUR,
        sequence: 1,
        origin: "rec-1".into(),
        payload: vec![7; 5000],
    }
    .encode();
    let mut bytes = std::fs::read(newest).expect("read segment");
    bytes.extend_from_slice(&torn[..torn.len() / 2]);
    std::fs::write(newest, &bytes).expect("tear the tail");

    agent.restart_elsewhere().await;
    for (channel, before) in ["video-1", "audio-1", "metadata-1"].into_iter().zip(&before) {
        let after = playback(&agent, channel, started, now_micros() + HOUR, None).await;
        let mut after_iter = after.iter();
        for record in before {
            assert!(
                after_iter.any(|r| r == record),
                "{channel}: record at {} lost by SIGKILL",
                record.timestamp
            );
        }
    }
    assert!(agent.log_text().contains("cut a torn or damaged tail"), "repair is logged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn range_boundaries_are_exact() {
    let dir = temp();
    let agent = Agent::start("rec-1", "recorder", &dir.path().join("rec-1"), LIGHT).await;
    let copied = records("fo-1", Y2001, 10, 1, 100);
    assert_eq!(ingest(&agent, "text-1", body(&copied)).await.0, 400, "text payloads must be UTF-8");
    let copied = records("fo-1", Y2001, 10, 1, 100);
    assert_eq!(ingest(&agent, "audio-1", body(&copied)).await.0, 200);
    let got = playback(&agent, "audio-1", Y2001 + 2, Y2001 + 5, None).await;
    assert_eq!(got, copied[2..5].to_vec(), "from inclusive, to exclusive");
    assert_eq!(count(&agent, "audio-1", Y2001 + 2, Y2001 + 5, None).await, 3);
    assert_eq!(count(&agent, "audio-1", Y2001 + 9, Y2001 + 10, None).await, 1);
    assert_eq!(count(&agent, "audio-1", Y2001 + 10, Y2001 + 11, None).await, 0);
    assert_eq!(count(&agent, "audio-1", Y2001 - 5, Y2001, None).await, 0);
    // A time between two microseconds starts at the next one.
    let from = encode("2001-01-01T00:00:00.0000015Z");
    let to = encode("2001-01-01T00:00:00.000004Z");
    let (_, half) = agent.get(&format!("/channels/audio-1/digest?from={from}&to={to}")).await;
    assert_eq!(half["count"], 2, "records at +2 and +3 µs");
    // Origin restricts the digest.
    assert_eq!(count(&agent, "audio-1", Y2001, Y2001 + 10, Some("someone-else")).await, 0);
    assert_eq!(count(&agent, "audio-1", Y2001, Y2001 + 10, Some("fo-1")).await, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_is_idempotent_and_merges_in_time_order() {
    let dir = temp();
    let agent = Agent::start("rec-1", "recorder", &dir.path().join("rec-1"), LIGHT).await;
    let all = records("fo-1", Y2001, 400, 10, 3_000);
    let (status, first) = ingest(&agent, "video-2", body(&all[..250])).await;
    assert_eq!(status, 200);
    assert_eq!(first["stored"], 250);
    let once = digest(&agent, "video-2", Y2001, Y2001 + HOUR, None).await;
    let (_, again) = ingest(&agent, "video-2", body(&all[..250])).await;
    assert_eq!((again["stored"].as_u64(), again["duplicates"].as_u64()), (Some(0), Some(250)));
    assert_eq!(digest(&agent, "video-2", Y2001, Y2001 + HOUR, None).await, once);
    // Overlapping: only the new part is stored; a record repeated in one body counts once.
    let mut overlapping = all[200..400].to_vec();
    overlapping.insert(100, all[299].clone());
    let (_, third) = ingest(&agent, "video-2", body(&overlapping)).await;
    assert_eq!((third["stored"].as_u64(), third["duplicates"].as_u64()), (Some(150), Some(51)));
    assert_eq!(playback(&agent, "video-2", Y2001, Y2001 + HOUR, None).await, all);
    // Interleaved with another origin's records at other times: one time-ordered stream.
    let other = records("fo-2", Y2001 + 5, 100, 10, 100);
    assert_eq!(ingest(&agent, "video-2", body(&other)).await.0, 200);
    let merged = playback(&agent, "video-2", Y2001, Y2001 + HOUR, None).await;
    assert_eq!(merged.len(), 500);
    assert!(merged.windows(2).all(|w| w[0].timestamp <= w[1].timestamp));
    assert_eq!(count(&agent, "video-2", Y2001, Y2001 + HOUR, Some("fo-1")).await, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_at_one_instant_are_told_apart_by_payload_across_batches() {
    let dir = temp();
    let agent = Agent::start("rec-1", "recorder", &dir.path().join("rec-1"), LIGHT).await;
    // 100 kB records: the ingest compares them with the archive in 4 MiB batches, so the 42nd
    // (index 41) is the last of the first batch.
    let mut spread = records("fo-1", Y2001, 60, 1, 100_000);
    // A repeat of that last record, first in the next batch.
    spread.insert(42, spread[41].clone());
    let (status, first) = ingest(&agent, "video-3", body(&spread)).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!((first["stored"].as_u64(), first["duplicates"].as_u64()), (Some(60), Some(1)));

    // 60 different records at one instant, the first repeated after its batch has gone.
    let at = Y2001 + 1_000;
    let mut same_instant = records("fo-1", at, 60, 0, 100_000);
    for (index, record) in same_instant.iter_mut().enumerate() {
        record.payload[0] = index as u8;
    }
    let mut repeated = same_instant.clone();
    repeated.push(same_instant[0].clone());
    let (_, second) = ingest(&agent, "video-3", body(&repeated)).await;
    assert_eq!((second["stored"].as_u64(), second["duplicates"].as_u64()), (Some(60), Some(1)));
    // All of them again, and one new one at the same instant.
    let mut again = same_instant.clone();
    let mut new = same_instant[0].clone();
    new.payload[0] = 200;
    again.push(new);
    let (_, third) = ingest(&agent, "video-3", body(&again)).await;
    assert_eq!((third["stored"].as_u64(), third["duplicates"].as_u64()), (Some(1), Some(60)));
    assert_eq!(count(&agent, "video-3", at, at + 1, Some("fo-1")).await, 61);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn playback_ingested_elsewhere_gives_equal_digests() {
    let dir = temp();
    let failover = Agent::start("fo-1", "failover", &dir.path().join("fo-1"), LIGHT).await;
    let recorder = Agent::start("rec-1", "recorder", &dir.path().join("rec-1"), LIGHT).await;
    let (_, settings) = recorder.get("/settings").await;
    let (status, acting) = failover
        .send_json(Method::PUT, "/acting", &json!({"recorder": "rec-1", "settings": settings}))
        .await;
    assert_eq!(status, 200, "{acting}");
    let from = now_micros() - 1;
    eventually("the failover server records", || async {
        count(&failover, "audio-1", from, now_micros() + HOUR, None).await > 50
    })
    .await;
    assert_eq!(failover.delete("/acting").await.0, 200);
    eventually("recording stops", || async {
        failover.get("/health").await.1["recording"] == false
    })
    .await;
    let to = now_micros() + 1;
    for channel in ["video-1", "audio-1", "metadata-1"] {
        let bytes = playback_bytes(&failover, channel, from, to, None).await;
        let (status, outcome) = ingest(&recorder, channel, bytes).await;
        assert_eq!(status, 200, "{outcome}");
        let source = digest(&failover, channel, from, to, None).await;
        let copy = digest(&recorder, channel, from, to, Some("fo-1")).await;
        assert_eq!(source, copy, "{channel}: the copy is complete");
        assert!(source["count"].as_u64() > Some(0), "{channel} has material");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_server_acts_and_stops() {
    let dir = temp();
    let mut failover = Agent::start("fo-1", "failover", &dir.path().join("fo-1"), LIGHT).await;
    let (_, health) = failover.get("/health").await;
    assert_eq!(
        (health["kind"].as_str(), &health["acting_for"], &health["recording"]),
        (Some("failover"), &Value::Null, &json!(false))
    );
    let (_, idle_settings) = failover.get("/settings").await;
    assert_eq!(idle_settings["channels"], json!([]));
    let bundle = json!({"channels": [
        {"id": "cam-a", "kind": "video", "bitrate_kbps": 64, "frame_rate": 5},
        {"id": "cam-a-anpr", "kind": "anpr", "source": "cam-a"},
        {"id": "mic", "kind": "audio"}
    ], "version": 7});
    assert_eq!(
        failover.send_json(Method::PUT, "/settings", &bundle).await.0,
        409,
        "idle: no settings to change"
    );

    let (status, acting) = failover
        .send_json(Method::PUT, "/acting", &json!({"recorder": "rec-9", "settings": bundle}))
        .await;
    assert_eq!(status, 200, "{acting}");
    assert_eq!(acting["acting_for"], "rec-9");
    assert_eq!(acting["settings_version"], 7, "acting keeps the recorder's version");
    let (_, health) = failover.get("/health").await;
    assert_eq!(health["acting_for"], "rec-9");
    let from = now_micros() - 1;
    eventually("it records the recorder's channels under their ids, as itself", || async {
        count(&failover, "mic", from, now_micros() + HOUR, Some("fo-1")).await > 10
    })
    .await;
    // Another recorder is refused while acting; the same one again is accepted.
    let (status, refusal) = failover
        .send_json(Method::PUT, "/acting", &json!({"recorder": "rec-2", "settings": bundle}))
        .await;
    assert_eq!(status, 409);
    assert!(refusal["message"].as_str().is_some_and(|m| m.contains("rec-9")), "{refusal}");
    // Settings change during the failover period.
    let mut changed = bundle.clone();
    changed["channels"][2]["id"] = json!("mic-2");
    let (status, updated) = failover.send_json(Method::PUT, "/settings", &changed).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["version"], 8);
    // A restart while acting resumes acting.
    failover.restart_elsewhere().await;
    let (_, health) = failover.get("/health").await;
    assert_eq!(health["acting_for"], "rec-9");
    assert_eq!(health["settings_version"], 8);
    eventually("recording resumes on the changed channels", || async {
        count(&failover, "mic-2", from, now_micros() + HOUR, None).await > 0
    })
    .await;

    assert_eq!(
        failover.delete("/acting?recorder=rec-2").await.0,
        409,
        "stop for the wrong recorder"
    );
    let (status, stopped) = failover.delete("/acting?recorder=rec-9").await;
    assert_eq!(status, 200, "{stopped}");
    assert_eq!(stopped["acting_for"], Value::Null);
    assert_eq!(stopped["previous"]["recorder"], "rec-9");
    assert_eq!(
        stopped["previous"]["settings"]["version"], 8,
        "the settings as changed during the failover"
    );
    assert_eq!(stopped["previous"]["settings"]["channels"][2]["id"], "mic-2");
    eventually("recording stops", || async {
        failover.get("/health").await.1["recording"] == false
    })
    .await;
    let kept = count(&failover, "mic", from, now_micros() + HOUR, None).await;
    assert!(kept > 10, "what it recorded stays for material copying");
    let (_, channels) = failover.get("/channels").await;
    assert!(
        channels
            .as_array()
            .expect("list")
            .iter()
            .any(|c| c["id"] == "mic" && c["configured"] == false),
        "{channels}"
    );
    let (status, again) = failover.delete("/acting").await;
    assert_eq!((status, &again["previous"]), (200, &Value::Null), "stopping is idempotent");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        count(&failover, "mic", from, now_micros() + HOUR, None).await,
        kept,
        "nothing recorded while idle"
    );

    // A recorder never acts for another.
    let recorder = Agent::start("rec-1", "recorder", &dir.path().join("rec-1"), LIGHT).await;
    assert_eq!(
        recorder
            .send_json(Method::PUT, "/acting", &json!({"recorder": "rec-9", "settings": bundle}))
            .await
            .0,
        409
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_deletes_by_age_and_by_size() {
    let dir = temp();
    let by_age = Agent::start(
        "rec-1",
        "recorder",
        &dir.path().join("rec-1"),
        &[
            "--video-bitrate-kbps",
            "64",
            "--video-fps",
            "5",
            "--retention-max-age",
            "1d",
            "--retention-interval",
            "1s",
        ],
    )
    .await;
    assert_eq!(
        ingest(&by_age, "video-1", body(&records("fo-1", Y2001, 20, 1_000, 1_000))).await.0,
        200
    );
    eventually("records older than a day are deleted", || async {
        count(&by_age, "video-1", Y2001, Y2001 + HOUR, None).await == 0
    })
    .await;

    // Size: three old batches of ~400 kB against a 1 MiB limit; the oldest goes first.
    let by_size = Agent::start(
        "rec-2",
        "recorder",
        &dir.path().join("rec-2"),
        &[
            "--video-bitrate-kbps",
            "8",
            "--video-fps",
            "1",
            "--retention-max-bytes",
            "1M",
            "--retention-interval",
            "1s",
        ],
    )
    .await;
    let only_one_channel = json!({"channels": [{"id": "video-1", "kind": "video"}]});
    assert_eq!(by_size.send_json(Method::PUT, "/settings", &only_one_channel).await.0, 200);
    for year in 0..3 {
        let batch = records("fo-1", Y2001 + year * 400 * 24 * HOUR, 40, 1_000, 10_000);
        assert_eq!(ingest(&by_size, "video-1", body(&batch)).await.0, 200);
    }
    eventually("the oldest batch is deleted", || async {
        count(&by_size, "video-1", Y2001, Y2001 + HOUR, None).await == 0
    })
    .await;
    assert_eq!(
        count(&by_size, "video-1", Y2001 + 400 * 24 * HOUR, Y2001 + 401 * 24 * HOUR, None).await,
        40
    );
    assert_eq!(
        count(&by_size, "video-1", Y2001 + 800 * 24 * HOUR, Y2001 + 801 * 24 * HOUR, None).await,
        40
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anpr_and_alarm_search_pages_through_a_range() {
    let dir = temp();
    let agent = Agent::start("rec-1", "recorder", &dir.path().join("rec-1"), LIGHT).await;
    let reads: Vec<recorder::wire::Record> = (0..25)
        .map(|i| recorder::wire::Record {
            timestamp: Y2001 + i * 1_000_000,
            sequence: i as u64,
            origin: "fo-1".into(),
            payload:
                json!({"plate": format!("ABC-{:03}", i), "confidence": 0.9, "source": "video-1"})
                    .to_string()
                    .into_bytes(),
        })
        .collect();
    assert_eq!(ingest(&agent, "anpr-1", body(&reads)).await.0, 200);
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path =
            format!("/channels/anpr-1/anpr?{}&limit=10", query(Y2001, Y2001 + HOUR, None));
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={}", encode(cursor)));
        }
        let (status, page) = agent.get(&path).await;
        assert_eq!(status, 200, "{page}");
        for item in page["items"].as_array().expect("items") {
            seen.push(item["data"]["plate"].as_str().expect("plate").to_owned());
            assert_eq!(
                item["payload"].as_str().map(|p| p.as_bytes().to_vec()),
                Some(reads[seen.len() - 1].payload.clone())
            );
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, (0..25).map(|i| format!("ABC-{i:03}")).collect::<Vec<_>>());
    let (_, filtered) = agent
        .get(&format!("/channels/anpr-1/anpr?{}&plate=abc-01", query(Y2001, Y2001 + HOUR, None)))
        .await;
    assert_eq!(filtered["items"].as_array().map(Vec::len), Some(10));

    let alarms: Vec<recorder::wire::Record> = (0..6)
        .map(|i| recorder::wire::Record {
            timestamp: Y2001 + i,
            sequence: i as u64,
            origin: "fo-1".into(),
            payload: json!({"alarm_id": 1 + i % 2, "state": "active"}).to_string().into_bytes(),
        })
        .collect();
    assert_eq!(ingest(&agent, "alarm-1", body(&alarms)).await.0, 200);
    let (_, page) = agent
        .get(&format!("/channels/alarm-1/alarms?{}&alarm_id=2", query(Y2001, Y2001 + HOUR, None)))
        .await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(3));
    assert_eq!(page["next_cursor"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_4xx_and_change_nothing() {
    let dir = temp();
    let agent = Agent::start("rec-1", "recorder", &dir.path().join("rec-1"), LIGHT).await;
    let good = records("fo-1", Y2001, 50, 10, 200);
    assert_eq!(ingest(&agent, "audio-1", body(&good)).await.0, 200);
    let before = digest(&agent, "audio-1", Y2001, Y2001 + HOUR, None).await;
    let expect_error = |status: u16, body: &Value, wanted: u16| {
        assert_eq!(status, wanted, "{body}");
        assert!(body["error"].is_string() && body["message"].is_string(), "JSON error: {body}");
    };

    // Bad ranges and parameters.
    for query in [
        "from=2001-01-01T01:00:00Z&to=2001-01-01T00:00:00Z".to_owned(),
        "from=2001-01-01T00:00:00Z&to=2001-01-01T00:00:00Z".to_owned(),
        "from=yesterday&to=2001-01-01T00:00:00Z".to_owned(),
        "to=2001-01-01T00:00:00Z".to_owned(),
        format!("{}&start=1", support::query(Y2001, Y2001 + 1, None)),
        format!("{}&origin=", support::query(Y2001, Y2001 + 1, None)),
    ] {
        for what in ["digest", "playback"] {
            let (status, body) = agent.get(&format!("/channels/audio-1/{what}?{query}")).await;
            expect_error(status, &body, 400);
        }
    }
    let (status, body) =
        agent.get(&format!("/channels/nope/digest?{}", query(Y2001, Y2001 + 1, None))).await;
    expect_error(status, &body, 404);

    // Bodies that are not records: garbage, a cut record, a flipped bit, out of order, wrong type.
    let mut more = support::body(&records("fo-1", Y2001 + 100_000, 20, 10, 200));
    let (status, body) = ingest(&agent, "audio-1", b"this is not a record stream".to_vec()).await;
    expect_error(status, &body, 400);
    let (status, body) = ingest(&agent, "audio-1", more[..more.len() - 3].to_vec()).await;
    expect_error(status, &body, 400);
    let mut flipped = more.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    let (status, body) = ingest(&agent, "audio-1", flipped).await;
    expect_error(status, &body, 400);
    let mut reversed = records("fo-1", Y2001 + 200_000, 5, 10, 200);
    reversed.reverse();
    let (status, body) = ingest(&agent, "audio-1", support::body(&reversed)).await;
    expect_error(status, &body, 400);
    let response = agent
        .client()
        .post(agent.url("/channels/audio-1/records"))
        .header("content-type", "text/plain")
        .body(more.split_off(0))
        .send()
        .await
        .expect("post");
    assert_eq!(response.status().as_u16(), 415);
    let bad_anpr = records("fo-1", Y2001 + 300_000, 2, 10, 20);
    let (status, body) = ingest(&agent, "anpr-1", support::body(&bad_anpr)).await;
    expect_error(status, &body, 400);
    assert_eq!(
        digest(&agent, "audio-1", Y2001, Y2001 + HOUR, None).await,
        before,
        "nothing changed"
    );
    assert_eq!(count(&agent, "anpr-1", Y2001, Y2001 + HOUR, None).await, 0);

    // Settings: the field is named and the version stays.
    let (status, body) = agent
        .send_json(Method::PUT, "/settings", &json!({"channels": [{"id": "a", "kind": "smell"}]}))
        .await;
    expect_error(status, &body, 400);
    assert_eq!(body["field"], "channels[0].kind");
    let (status, body) = agent
        .send_json(
            Method::PUT,
            "/settings",
            &json!({"channels": [{"id": "audio-1", "kind": "video"}]}),
        )
        .await;
    expect_error(status, &body, 400);
    assert_eq!(body["field"], "channels[0].kind", "the archive holds audio under that id");
    let (status, body) = agent
        .send_json(Method::PUT, "/settings?expected_version=99", &json!({"channels": []}))
        .await;
    expect_error(status, &body, 409);
    let response = agent.client().put(agent.url("/settings")).body("{}").send().await.expect("put");
    assert_eq!(response.status().as_u16(), 415);
    assert_eq!(agent.get("/settings").await.1["version"], 1);

    // Searches on the wrong kind, bad cursors and limits; unknown paths and methods.
    let (status, body) =
        agent.get(&format!("/channels/video-1/anpr?{}", query(Y2001, Y2001 + 1, None))).await;
    expect_error(status, &body, 400);
    let (status, body) = agent
        .get(&format!("/channels/anpr-1/anpr?{}&cursor=zz", query(Y2001, Y2001 + 1, None)))
        .await;
    expect_error(status, &body, 400);
    let (status, body) = agent
        .get(&format!("/channels/anpr-1/anpr?{}&limit=0", query(Y2001, Y2001 + 1, None)))
        .await;
    expect_error(status, &body, 400);
    let (status, body) = agent.get("/no/such/thing").await;
    expect_error(status, &body, 404);
    let (status, body) = agent.send_json(Method::POST, "/health", &json!({})).await;
    expect_error(status, &body, 405);
    let (status, body) = agent.send_json(Method::POST, "/copy-tasks", &json!({})).await;
    expect_error(status, &body, 400);
    let bad_range = json!({
        "failover_id": 1, "source": {"name": "fo-1", "address": "http://127.0.0.1:9"}, "recorder": "rec-1",
        "from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z", "channels": [{"id": "video-1", "kind": "video"}],
    });
    let (status, body) = agent.send_json(Method::POST, "/copy-tasks", &bad_range).await;
    expect_error(status, &body, 400);
    let (status, body) = agent.get("/copy-tasks/77").await;
    expect_error(status, &body, 404);
    // Nothing was created by the refused requests.
    let (status, body) = agent.get("/copy-tasks").await;
    assert_eq!((status, body), (200, json!([])));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_agent_on_the_same_data_directory_is_refused() {
    let dir = temp();
    let data_dir = dir.path().join("rec-1");
    let agent = Agent::start("rec-1", "recorder", &data_dir, LIGHT).await;
    let second = std::process::Command::new(env!("CARGO_BIN_EXE_standby-recorder"))
        .args(["--listen", "127.0.0.1:0", "--name", "rec-1"])
        .arg("--data-dir")
        .arg(&data_dir)
        .output()
        .expect("run a second agent");
    assert!(!second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("another standby-recorder"));
    assert_eq!(agent.get("/health").await.0, 200, "the first one is unharmed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_health_stream_beats_at_the_pace_asked_and_ends_when_the_agent_stops() {
    use futures::StreamExt;
    let dir = temp();
    let mut agent = Agent::start("rec-1", "recorder", &dir.path().join("rec-1"), LIGHT).await;
    let (status, refusal) = agent.get("/health/stream?every_ms=10").await;
    assert_eq!((status, &refusal["field"]), (400, &json!("every_ms")), "{refusal}");
    let response =
        agent.client().get(agent.url("/health/stream?every_ms=100")).send().await.expect("open");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let mut body = response.bytes_stream();
    let mut text = String::new();
    let started = std::time::Instant::now();
    while text.lines().count() < 4 {
        let chunk = tokio::time::timeout(DEADLINE, body.next()).await.expect("a beat in time");
        text.push_str(&String::from_utf8_lossy(&chunk.expect("open").expect("a chunk")));
    }
    for line in text.lines() {
        let beat: Value = serde_json::from_str(line).expect("each line is a Health");
        assert_eq!(beat["name"], "rec-1");
    }
    // Four beats: one at once and three more at the pace asked (not a burst).
    assert!(started.elapsed() >= std::time::Duration::from_millis(250), "{text}");
    // A stopping agent ends its streams, so the manager learns of it at once and the agent
    // does not wait out its shutdown grace for them.
    let stopping = std::time::Instant::now();
    let exit = agent.terminate().await;
    assert!(exit.success(), "{exit:?}");
    assert!(stopping.elapsed() < std::time::Duration::from_secs(8), "{:?}", stopping.elapsed());
    let rest = tokio::time::timeout(DEADLINE, async {
        while let Some(chunk) = body.next().await {
            if chunk.is_err() {
                break;
            }
        }
    })
    .await;
    assert!(rest.is_ok(), "the stream ended");
}
