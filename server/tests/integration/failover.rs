//! Automatic failover with real recorder agents, killed with SIGKILL.

use serde_json::Value;
use std::time::Duration;
use testkit::Site;
use testkit::eventually;

async fn active_failover_of(site: &Site, recorder: &str) -> Value {
    eventually(&format!("an active failover of {recorder}"), || async {
        site.failovers("?state=active")
            .await
            .into_iter()
            .find(|entry| entry["recorder"]["name"] == recorder && entry["status"] == "active")
    })
    .await
}

#[tokio::test]
async fn a_killed_recorder_fails_over_and_the_failover_server_records_for_it() {
    let mut site = Site::start(Some(1), &[]).await;
    site.agent("rec-1", "recorder").await;
    site.agent("fo-1", "failover").await;
    site.wait_state("rec-1", "ok").await;
    site.wait_state("fo-1", "standby").await;
    site.wait_settings_cached("rec-1").await;
    let channels = site.agent_get("rec-1", "/api/v1/channels").await;

    site.kill("rec-1").await;
    let entry = active_failover_of(&site, "rec-1").await;
    assert_eq!(entry["failover_server"]["name"], "fo-1");
    assert!(
        entry["failover_started_at"].is_string() && entry["failover_finished_at"].is_string(),
        "{entry}"
    );
    assert_eq!(entry["copy"]["status"], "not_started");
    assert_eq!(site.server("rec-1").await["state"], "broken");
    let failover_server = site.server("fo-1").await;
    assert_eq!(
        (&failover_server["state"], &failover_server["acting_for"]),
        (&Value::from("acting"), &Value::from("rec-1"))
    );

    // The failover server records under the recorder's channel ids.
    let health = site.agent_get("fo-1", "/api/v1/health").await;
    assert_eq!(health["acting_for"], "rec-1");
    let first_video = channels
        .as_array()
        .and_then(|all| all.iter().find(|channel| channel["kind"] == "video"))
        .and_then(|channel| channel["id"].as_str())
        .expect("the recorder has a video channel")
        .to_owned();
    let from = entry["failover_started_at"].as_str().unwrap().to_owned();
    eventually("fo-1 records rec-1's video channel", || async {
        let to = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let path = format!(
            "/api/v1/channels/{first_video}/digest?from={}&to={}&origin=fo-1",
            urlencode(&from),
            urlencode(&to)
        );
        let digest = site.agent_get("fo-1", &path).await;
        (digest["count"].as_i64().unwrap_or(0) > 0).then_some(())
    })
    .await;

    let detail = site.get(&format!("/api/v1/failovers/{}", entry["id"])).await;
    let codes: Vec<_> = detail["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|note| note["code"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes, ["failover_started", "failover_performed"]);
    // The recorder is never failed over twice.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(site.failovers("").await.len(), 1);
}

#[tokio::test]
async fn with_one_failover_server_for_two_dead_recorders_the_second_waits_for_a_free_one() {
    let mut site = Site::start(Some(2), &[]).await;
    site.agent("rec-1", "recorder").await;
    site.agent("rec-2", "recorder").await;
    site.agent("fo-1", "failover").await;
    for name in ["rec-1", "rec-2"] {
        site.wait_state(name, "ok").await;
        site.wait_settings_cached(name).await;
    }
    site.wait_state("fo-1", "standby").await;
    site.kill("rec-1").await;
    site.kill("rec-2").await;

    let refused = eventually("one failover refused for want of a failover server", || async {
        site.failovers("?state=finalized")
            .await
            .into_iter()
            .find(|entry| entry["error_code"] == "no_failover_server")
    })
    .await;
    let active = eventually("one failover performed", || async {
        site.failovers("?state=active").await.into_iter().find(|entry| entry["status"] == "active")
    })
    .await;
    assert_ne!(refused["recorder"]["name"], active["recorder"]["name"]);
    assert_eq!(refused["status"], "failed");
    assert!(refused["error"].as_str().unwrap().contains("No failover server is free"), "{refused}");
    // Refused once, not once per monitor round.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(site.failovers("?state=finalized").await.len(), 1);

    // A failover server becomes free: the waiting recorder is failed over to it.
    site.agent("fo-2", "failover").await;
    let waiting = refused["recorder"]["name"].as_str().unwrap().to_owned();
    let second = active_failover_of(&site, &waiting).await;
    assert_eq!(second["failover_server"]["name"], "fo-2");
}

/// A storm: five recorders die at once with two failover servers. Two are failed over; each of
/// the other three gets one `no_failover_server` entry (not one per monitor round); and when a
/// repaired recorder is failed back, its failover server goes to a waiting recorder at once: the
/// monitor's rounds (which retry refused failovers too) are minutes apart here, so only the
/// freed server itself can start that failover within the wait.
#[tokio::test]
async fn a_storm_fills_the_free_failover_servers_and_the_rest_wait_logged_once_each() {
    let mut site = Site::start(Some(5), &["--monitor-interval-ms", "300000"]).await;
    let recorders = ["rec-1", "rec-2", "rec-3", "rec-4", "rec-5"];
    for name in recorders {
        site.agent(name, "recorder").await;
    }
    for name in ["fo-1", "fo-2"] {
        site.agent(name, "failover").await;
        site.wait_state(name, "standby").await;
    }
    for name in recorders {
        site.wait_state(name, "ok").await;
        site.wait_settings_cached(name).await;
    }
    for name in recorders {
        site.kill(name).await;
    }

    let recorder_of = |entry: &Value| entry["recorder"]["name"].as_str().unwrap_or("").to_owned();
    let active = eventually("two failovers active", || async {
        let active: Vec<Value> = site.failovers("?state=active").await;
        (active.iter().filter(|entry| entry["status"] == "active").count() == 2).then_some(active)
    })
    .await;
    let refused = eventually("three failovers refused", || async {
        let refused: Vec<Value> = site
            .failovers("?state=finalized")
            .await
            .into_iter()
            .filter(|entry| entry["error_code"] == "no_failover_server")
            .collect();
        (refused.len() == 3).then_some(refused)
    })
    .await;
    let mut everyone: Vec<String> = active.iter().chain(&refused).map(recorder_of).collect();
    everyone.sort();
    assert_eq!(everyone, recorders, "each dead recorder is either failed over or waiting, once");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(site.failovers("?state=finalized").await.len(), 3, "refused once each");
    assert_eq!(site.failovers("?state=active").await.len(), 2);

    // One failed-over recorder is repaired and failed back, and the freed failover server takes
    // over a waiting recorder.
    let repaired = recorder_of(&active[0]);
    let freed = active[0]["failover_server"]["name"].as_str().unwrap_or("").to_owned();
    let waiting: Vec<String> = refused.iter().map(recorder_of).collect();
    site.agent(&repaired, "recorder").await;
    let failback = format!("/api/v1/failovers/{}/failback", active[0]["id"]);
    eventually(&format!("{repaired} failed back"), || async {
        site.post(&failback, serde_json::json!({})).await.0 == 200
    })
    .await;
    let taken = eventually(&format!("{freed} acting for a waiting recorder"), || async {
        site.failovers("?state=active").await.into_iter().find(|entry| {
            entry["status"] == "active"
                && entry["failover_server"]["name"] == freed.as_str()
                && waiting.contains(&recorder_of(entry))
        })
    })
    .await;
    let back = site.failovers("?state=finalized").await;
    assert!(
        back.iter().any(|entry| entry["id"] == active[0]["id"] && entry["status"] == "finalized"),
        "{repaired} was failed back: {back:?}"
    );
    assert_ne!(recorder_of(&taken), repaired);
}

#[tokio::test]
async fn without_a_licence_failover_is_refused_and_logged_once() {
    let mut site = Site::start(None, &[]).await;
    site.agent("rec-1", "recorder").await;
    site.agent("fo-1", "failover").await;
    site.wait_state("rec-1", "ok").await;
    site.wait_state("fo-1", "standby").await;
    site.kill("rec-1").await;
    let refused = eventually("a refusal for want of a licence", || async {
        site.failovers("").await.into_iter().find(|entry| entry["error_code"] == "no_license")
    })
    .await;
    assert_eq!(refused["status"], "failed");
    assert_eq!(refused["failover_server"], Value::Null);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(site.failovers("").await.len(), 1, "logged once while the situation lasts");
    assert_eq!(site.server("fo-1").await["state"], "standby");
}

/// SIGSTOP or SIGCONT to a process: a host that goes silent without closing anything (the
/// kernel keeps its connections open) and comes back.
fn signal(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} {pid}");
}

#[tokio::test]
async fn a_silent_recorder_is_failed_over_after_the_window_and_a_brief_stall_is_not() {
    let window = Duration::from_millis(3000);
    let mut site = Site::start(Some(1), &["--failover-window-ms", "3000"]).await;
    site.agent("rec-1", "recorder").await;
    site.agent("fo-1", "failover").await;
    site.wait_state("rec-1", "ok").await;
    site.wait_state("fo-1", "standby").await;
    site.wait_settings_cached("rec-1").await;
    let pid = site.agents["rec-1"].pid();

    // A stall well within the window: no failover.
    signal(pid, "STOP");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    signal(pid, "CONT");
    tokio::time::sleep(window + Duration::from_millis(1500)).await;
    assert_eq!(site.failovers("").await, Vec::<Value>::new(), "a brief stall is not a failure");
    assert_eq!(site.server("rec-1").await["state"], "ok");

    // Silent for longer: failed over, and not before the window has passed.
    let stalled = std::time::Instant::now();
    signal(pid, "STOP");
    let entry = active_failover_of(&site, "rec-1").await;
    let after = stalled.elapsed();
    signal(pid, "CONT");
    assert!(after >= window, "failed over {after:?} after the stall, within the {window:?} window");
    assert_eq!(entry["failover_server"]["name"], "fo-1", "{entry}");
}

#[tokio::test]
async fn a_manager_killed_at_any_step_of_failover_recovers_on_start() {
    for step in ["failover:started", "failover:settings_taken", "failover:acting"] {
        let mut site = Site::start(Some(1), &[]).await;
        site.agent("rec-1", "recorder").await;
        site.agent("fo-1", "failover").await;
        site.wait_state("rec-1", "ok").await;
        site.wait_state("fo-1", "standby").await;
        site.wait_settings_cached("rec-1").await;
        // The manager dies at the step.
        site.restart_manager(&[("STANDBY_TEST_CRASH_AT", step)]).await;
        site.kill("rec-1").await;
        let crashed = tokio::time::timeout(Duration::from_secs(60), site.manager.wait()).await;
        assert!(crashed.is_ok(), "{step}: the manager did not reach the step");
        // It starts again and puts things right.
        site.restart_manager(&[]).await;
        let entry = active_failover_of(&site, "rec-1").await;
        assert_eq!(entry["failover_server"]["name"], "fo-1", "{step}");
        let all = site.failovers("").await;
        let interrupted = all.iter().min_by_key(|entry| entry["id"].as_i64()).unwrap();
        match interrupted["status"].as_str() {
            Some("active") => {
                assert_eq!(step, "failover:acting", "only a failover server already acting is kept")
            }
            Some("failed") => {
                assert_eq!(interrupted["error_code"], "internal_error", "{step}: {interrupted}")
            }
            other => panic!("{step}: the interrupted entry is {other:?}"),
        }
        assert_eq!(site.agent_get("fo-1", "/api/v1/health").await["acting_for"], "rec-1", "{step}");
        assert_eq!(site.server("rec-1").await["state"], "broken", "{step}");
    }
}

fn urlencode(text: &str) -> String {
    text.replace('+', "%2B").replace(':', "%3A")
}

#[tokio::test]
async fn a_failover_group_decides_which_failover_server_covers_a_recorder_and_in_which_order() {
    let mut site = Site::start(Some(2), &[]).await;
    for (name, kind) in [("rec-1", "recorder"), ("fo-1", "failover"), ("fo-2", "failover")] {
        site.agent(name, kind).await;
    }
    let id = |name: &str| {
        let site = &site;
        let name = name.to_owned();
        async move { site.server(&name).await["id"].as_i64().unwrap() }
    };
    let (rec, fo1, fo2) = (id("rec-1").await, id("fo-1").await, id("fo-2").await);
    // fo-2 first, then fo-1.
    let group = site
        .client
        .post(site.url("/api/v1/failover-groups"))
        .json(&serde_json::json!({ "name": "North", "recorders": [rec], "failover_servers": [fo2, fo1] }))
        .send()
        .await
        .unwrap();
    assert_eq!(group.status(), 201);
    let group: Value = group.json().await.unwrap();
    let order: Vec<_> =
        group["failover_servers"].as_array().unwrap().iter().map(|s| s["name"].clone()).collect();
    assert_eq!(order, ["fo-2", "fo-1"]);
    // A recorder given as a failover server is refused, naming the field.
    let wrong = site
        .client
        .post(site.url("/api/v1/failover-groups"))
        .json(&serde_json::json!({ "name": "South", "failover_servers": [rec] }))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 400);
    assert_eq!(wrong.json::<Value>().await.unwrap()["error"], "invalid_failover_servers");

    site.wait_state("rec-1", "ok").await;
    site.wait_state("fo-1", "standby").await;
    site.wait_state("fo-2", "standby").await;
    site.wait_settings_cached("rec-1").await;
    site.kill("rec-1").await;
    let entry = active_failover_of(&site, "rec-1").await;
    assert_eq!(entry["failover_server"]["name"], "fo-2", "the group's order");
}

#[tokio::test]
async fn the_failover_log_page_exports_what_it_shows_as_csv() {
    let mut site = Site::start(Some(1), &[]).await;
    let entry = site.failed_over(serde_json::json!({ "auto_failback": false })).await;
    let response = site.client.get(site.url("/failovers.csv?offset=0")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let kind = response.headers()["content-type"].to_str().unwrap_or_default().to_owned();
    assert!(kind.starts_with("text/csv"), "{kind}");
    let csv = response.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("id,recorder,failover server,status"), "{csv}");
    assert!(lines[1].starts_with(&format!("{},rec-1,fo-1,active,", entry["id"])), "{csv}");
    // The page's filters apply: no failed entries, so only the header.
    let failed = site.client.get(site.url("/failovers.csv?status=failed")).send().await.unwrap();
    assert_eq!(failed.text().await.unwrap().lines().count(), 1);
    // Not without a login.
    let anonymous = reqwest::get(site.url("/failovers.csv")).await.unwrap();
    assert_eq!(anonymous.status(), 401);
}

/// The failover server's heartbeat says "standby" while its failback is still finishing (here
/// held at that step): a recorder waiting for a failover server cannot have it yet, and must
/// get it as soon as the failback is done, not at the next monitor round (five minutes here).
#[tokio::test]
async fn a_failover_server_freed_by_a_failback_goes_to_a_waiting_recorder_once_it_is_done() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let database = format!("sqlite://{}", dir.path().join("standby.db").display());
    let pause = dir.path().join("paused");
    let file = pause.display().to_string();
    let env = [
        ("STANDBY_TEST_PAUSE_AT", "failback:failover_server_stopped"),
        ("STANDBY_TEST_PAUSE_FILE", file.as_str()),
    ];
    let flags = ["--monitor-interval-ms", "300000"];
    let mut site = Site::start_on_database_with_env(&database, Some(2), &flags, &env).await;
    site.covered(serde_json::json!({ "auto_failback": false })).await;
    site.agent("rec-2", "recorder").await;
    site.wait_state("rec-2", "ok").await;
    site.wait_settings_cached("rec-2").await;
    site.kill("rec-1").await;
    let entry = active_failover_of(&site, "rec-1").await;
    site.kill("rec-2").await;
    eventually("rec-2 waits for a failover server", || async {
        site.failovers("?state=finalized").await.into_iter().any(|entry| {
            entry["recorder"]["name"] == "rec-2" && entry["error_code"] == "no_failover_server"
        })
    })
    .await;

    site.agent("rec-1", "recorder").await;
    let failback = site.url(&format!("/api/v1/failovers/{}/failback", entry["id"]));
    let client = site.client.clone();
    let failing_back = tokio::spawn(async move {
        let body = serde_json::json!({});
        testkit::http::send(&client, reqwest::Method::POST, &failback, Some(&body)).await
    });
    eventually("the failback paused after fo-1 stopped", || async { pause.exists() }).await;
    // fo-1 says it stands by; its entry is still failing back.
    site.wait_state("fo-1", "standby").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    std::fs::remove_file(&pause).expect("the pause file removed");
    let (status, answer) = failing_back.await.expect("the failback request");
    assert_eq!(status, 200, "{answer}");

    let taken = active_failover_of(&site, "rec-2").await;
    assert_eq!(taken["failover_server"]["name"], "fo-1", "{taken}");
}
