//! Several managers on one PostgreSQL database (real processes, a fresh database per test): one
//! leads, a follower takes over when it dies or is frozen, and a stale leader cannot act.

use serde_json::Value;
use std::time::{Duration, Instant};
use testkit::postgres::fresh_database;
use testkit::process::Process;
use testkit::{Site, eventually};

/// Short lease timings keep the tests quick; the defaults are measured by the takeover bench.
const LEASE: [&str; 4] = ["--lease-ms", "1500", "--renew-ms", "300"];

/// The leader as `at` lists it, once exactly one leads and it is not `before` (any, with
/// `None`).
async fn leader_seen_by(site: &Site, at: &Process, before: Option<&Value>) -> Value {
    eventually("exactly one leading manager", || async {
        let listed = site.managers(at).await?;
        let leaders: Vec<&Value> = listed.iter().filter(|m| m["leader"] == true).collect();
        match leaders.as_slice() {
            [leader] if before.is_none_or(|before| leader["id"] != before["id"]) => {
                Some((*leader).clone())
            }
            _ => None,
        }
    })
    .await
}

async fn failovers_of(site: &Site, recorder: &str) -> Vec<Value> {
    site.failovers("")
        .await
        .into_iter()
        .filter(|entry| entry["recorder"]["name"] == recorder)
        .collect()
}

/// `rec-1` recording, its settings cached, and `fo-1` standing by.
async fn recorder_and_failover_server(site: &mut Site) {
    site.agent("rec-1", "recorder").await;
    site.agent("fo-1", "failover").await;
    site.wait_state("rec-1", "ok").await;
    site.wait_state("fo-1", "standby").await;
    site.wait_settings_cached("rec-1").await;
}

async fn metric(site: &Site, at: &Process, name: &str) -> Option<String> {
    let text = site.client.get(at.url("/metrics")).send().await.ok()?.text().await.ok()?;
    text.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' ').map(str::to_owned))
}

#[tokio::test]
async fn the_leader_and_a_recorder_killed_together_a_follower_takes_over_and_fails_it_over() {
    let Some(database) = fresh_database("managers_kill").await else { return };
    let mut site = Site::start_on_database(&database.url, Some(1), &LEASE).await;
    let follower = site.another_manager().await;
    let first = leader_seen_by(&site, &follower, None).await;
    let listed = site.managers(&follower).await.unwrap_or_default();
    assert_eq!(listed.len(), 2, "both managers are listed: {listed:?}");
    assert_eq!(metric(&site, &site.manager, "standby_leader").await.as_deref(), Some("1"));
    assert_eq!(metric(&site, &follower, "standby_leader").await.as_deref(), Some("0"));

    recorder_and_failover_server(&mut site).await;

    let killed = Instant::now();
    site.manager.kill().await;
    site.kill("rec-1").await;
    // From now on the site is driven through the follower (same database, same token).
    site.manager = follower;
    let second = leader_seen_by(&site, &site.manager, Some(&first)).await;
    let took_over = killed.elapsed();
    assert_ne!(second["id"], first["id"]);
    assert!(second["epoch"].as_i64() > first["epoch"].as_i64(), "{first} then {second}");

    let entry = eventually("rec-1 failed over by the new leader", || async {
        failovers_of(&site, "rec-1").await.into_iter().find(|entry| entry["status"] == "active")
    })
    .await;
    assert_eq!(entry["failover_server"]["name"], "fo-1");
    eprintln!("takeover {took_over:?}, failover active after {:?}", killed.elapsed());
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(failovers_of(&site, "rec-1").await.len(), 1, "one failover, never two");
}

#[tokio::test]
async fn a_frozen_leader_past_its_lease_does_not_act_when_it_wakes() {
    let Some(database) = fresh_database("managers_freeze").await else { return };
    let mut site = Site::start_on_database(&database.url, Some(1), &LEASE).await;
    let follower = site.another_manager().await;
    recorder_and_failover_server(&mut site).await;
    let first = leader_seen_by(&site, &follower, None).await;
    assert_eq!(metric(&site, &site.manager, "standby_leader").await.as_deref(), Some("1"));

    // The leader freezes with the recorder's death ahead of it, and wakes after another
    // manager has taken over and failed the recorder over.
    let frozen = site.manager.pid().to_string();
    signal("-STOP", &frozen).await;
    site.kill("rec-1").await;
    let second = leader_seen_by(&site, &follower, Some(&first)).await;
    assert_ne!(second["id"], first["id"]);
    let stale = std::mem::replace(&mut site.manager, follower);
    eventually("rec-1 failed over by the new leader", || async {
        failovers_of(&site, "rec-1").await.into_iter().find(|entry| entry["status"] == "active")
    })
    .await;
    signal("-CONT", &frozen).await;
    eventually("the woken manager knows it follows", || async {
        (metric(&site, &stale, "standby_leader").await? == "0").then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let entries = failovers_of(&site, "rec-1").await;
    assert_eq!(entries.len(), 1, "the woken manager made no failover of its own: {entries:?}");
    assert_eq!(site.server("fo-1").await["acting_for"], "rec-1");
    let health = site.agent_get("fo-1", "/api/v1/health").await;
    assert_eq!(health["acting_for"], "rec-1", "fo-1 still acts for rec-1");
    let seen_by_stale = leader_seen_by(&site, &stale, Some(&first)).await;
    assert_eq!(seen_by_stale["id"], second["id"]);
    // Whatever the old term would still send is refused: the agent has seen the new epoch.
    let agent = site.agents.get("fo-1").expect("fo-1 runs");
    let stale_command = agent
        .client()
        .delete(agent.url("/acting"))
        .header("standby-epoch", first["epoch"].to_string())
        .send()
        .await
        .expect("fo-1 answers");
    assert_eq!(stale_command.status().as_u16(), 409, "a command of the old term is refused");
    assert_eq!(site.agent_get("fo-1", "/api/v1/health").await["acting_for"], "rec-1");
}

#[tokio::test]
async fn a_leader_stopped_with_sigterm_hands_over_without_waiting_for_its_lease() {
    let Some(database) = fresh_database("managers_resign").await else { return };
    // A lease of a minute: only a resignation can make the follower lead within the test.
    let long = ["--lease-ms", "60000", "--renew-ms", "300"];
    let mut site = Site::start_on_database(&database.url, None, &long).await;
    let follower = site.another_manager().await;
    let first = leader_seen_by(&site, &follower, None).await;
    let stopped = site.manager.terminate().await;
    assert!(stopped.success(), "the leader stopped cleanly: {stopped}");
    let handed = Instant::now();
    site.manager = follower;
    let second = leader_seen_by(&site, &site.manager, Some(&first)).await;
    assert!(second["epoch"].as_i64() > first["epoch"].as_i64(), "{first} then {second}");
    assert!(handed.elapsed() < Duration::from_secs(30), "took {:?}", handed.elapsed());
    let listed = site.managers(&site.manager).await.unwrap_or_default();
    assert_eq!(listed.len(), 1, "the stopped manager left the list: {listed:?}");
}

#[tokio::test]
async fn a_change_made_through_one_manager_reaches_the_event_stream_of_another() {
    use futures::StreamExt;
    let Some(database) = fresh_database("managers_events").await else { return };
    let site = Site::start_on_database(&database.url, None, &LEASE).await;
    let follower = site.another_manager().await;
    leader_seen_by(&site, &follower, None).await;
    let mut events = site
        .client
        .get(follower.url("/api/v1/events"))
        .send()
        .await
        .expect("the follower's event stream")
        .bytes_stream();
    // Registered through the leader.
    site.register("rec-9", "http://127.0.0.1:9", "recorder", serde_json::json!({})).await;
    let mut seen = String::new();
    let arrived = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(Ok(chunk)) = events.next().await {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains("event: server_changed") && seen.contains("rec-9") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(arrived, Ok(true), "no server_changed for rec-9 on the follower: {seen}");
}

#[tokio::test]
async fn a_second_manager_on_one_sqlite_file_refuses_to_start() {
    let site = Site::start(None, &[]).await;
    let output = tokio::process::Command::new(testkit::binaries::Binary::Manager.path())
        .args(["serve", "--listen", "127.0.0.1:0", "--database-url", &site.database_url])
        .env("STANDBY_LOG", "warn")
        .output()
        .await
        .expect("run a second standby serve");
    assert_eq!(output.status.code(), Some(1));
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        said.contains("another Standby manager is already running on")
            && said.contains("PostgreSQL"),
        "{said}"
    );
}

async fn signal(which: &str, pid: &str) {
    let sent = tokio::process::Command::new("kill").args([which, pid]).status().await;
    assert!(sent.is_ok_and(|status| status.success()), "kill {which} {pid} failed");
}

/// No entry of the log stays mid-step (failing over or failing back): one the leader is
/// working on finishes, one a killed leader left is finished or rolled back by the next.
async fn none_mid_step(site: &Site) {
    eventually("no entry left mid-step", || async {
        let entries = site.failovers("").await;
        let mid_step = |entry: &Value| {
            matches!(entry["status"].as_str(), Some("failing_over" | "failing_back"))
        };
        (!entries.iter().any(mid_step)).then_some(())
    })
    .await
}

#[tokio::test]
async fn the_leader_killed_ten_times_another_takes_over_each_time_and_acts_once() {
    let Some(database) = fresh_database("managers_kills").await else { return };
    let mut site = Site::start_on_database(&database.url, Some(1), &LEASE).await;
    let mut follower = site.another_manager().await;
    recorder_and_failover_server(&mut site).await;
    let mut previous = leader_seen_by(&site, &follower, None).await;
    for kill in 0..10 {
        // Whichever of the two leads (a new manager may win a takeover) is killed.
        let listen = previous["listen"].as_str().unwrap_or_default().to_owned();
        if !site.manager.address().ends_with(&listen) {
            std::mem::swap(&mut site.manager, &mut follower);
        }
        assert!(site.manager.address().ends_with(&listen), "{previous} is one of the two");
        site.manager.kill().await;
        if kill == 2 {
            // One recorder death at the moment of a takeover.
            site.kill("rec-1").await;
        }
        let joining = site.another_manager().await;
        site.manager = std::mem::replace(&mut follower, joining);
        let next = leader_seen_by(&site, &site.manager, Some(&previous)).await;
        assert!(next["epoch"].as_i64() > previous["epoch"].as_i64(), "{previous} then {next}");
        previous = next;
        if kill == 2 {
            // Done before the next kill: a leader killed mid-failover has its failover rolled
            // back and retried (a second entry), as after a restart.
            eventually("rec-1 failed over by the new leader", || async {
                let entries = failovers_of(&site, "rec-1").await;
                entries.into_iter().find(|entry| entry["status"] == "active")
            })
            .await;
        }
        none_mid_step(&site).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let entries = failovers_of(&site, "rec-1").await;
    assert_eq!(entries.len(), 1, "failed over once, by one leader: {entries:?}");
    none_mid_step(&site).await;
}

#[tokio::test]
async fn managers_ride_out_a_postgresql_restart_and_one_leads_after_it() {
    let Some(postgres) = testkit::postgres::PrivatePostgres::start() else { return };
    let mut site = Site::start_on_database(&postgres.url, Some(1), &LEASE).await;
    let follower = site.another_manager().await;
    recorder_and_failover_server(&mut site).await;
    leader_seen_by(&site, &follower, None).await;

    postgres.restart();
    // Both reconnect; exactly one leads, as both see it.
    let leader = leader_seen_by(&site, &follower, None).await;
    let as_seen_by_the_other = leader_seen_by(&site, &site.manager, None).await;
    assert_eq!(leader["id"], as_seen_by_the_other["id"]);
    // And it acts: a recorder that dies now is failed over, once.
    site.kill("rec-1").await;
    eventually("rec-1 failed over after the restart", || async {
        failovers_of(&site, "rec-1").await.into_iter().find(|entry| entry["status"] == "active")
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(failovers_of(&site, "rec-1").await.len(), 1);
    none_mid_step(&site).await;
    drop(follower);
}

#[tokio::test]
async fn a_leader_killed_mid_failover_leaves_it_to_the_follower_to_finish() {
    let Some(database) = fresh_database("managers_mid_step").await else { return };
    let mut site = Site::start_on_database(&database.url, Some(1), &LEASE).await;
    // The leader dies when the failover server already acts for the recorder: the new leader
    // keeps that failover (the recovery after a restart) rather than starting another.
    site.restart_manager(&[("STANDBY_TEST_CRASH_AT", "failover:acting")]).await;
    leader_seen_by(&site, &site.manager, None).await;
    let follower = site.another_manager().await;
    recorder_and_failover_server(&mut site).await;
    let first = leader_seen_by(&site, &follower, None).await;
    assert!(site.manager.address().ends_with(first["listen"].as_str().unwrap_or("?")));

    site.kill("rec-1").await;
    let crashed = tokio::time::timeout(Duration::from_secs(60), site.manager.wait()).await;
    assert!(crashed.is_ok(), "the leader did not reach the step");
    site.manager = follower;
    leader_seen_by(&site, &site.manager, Some(&first)).await;
    none_mid_step(&site).await;
    let entries = failovers_of(&site, "rec-1").await;
    assert_eq!(entries.len(), 1, "the interrupted failover was kept, not repeated: {entries:?}");
    assert_eq!(entries[0]["status"], "active", "{entries:?}");
    assert_eq!(site.agent_get("fo-1", "/api/v1/health").await["acting_for"], "rec-1");
    assert_eq!(site.server("rec-1").await["state"], "broken");
}

#[tokio::test]
async fn a_manual_failback_works_through_a_follower() {
    let Some(database) = fresh_database("managers_manual").await else { return };
    let mut site = Site::start_on_database(&database.url, Some(1), &LEASE).await;
    let mut follower = site.another_manager().await;
    let leader = leader_seen_by(&site, &follower, None).await;
    let entry = site.failed_over(serde_json::json!({ "auto_failback": false })).await;
    site.agent("rec-1", "recorder").await;

    // The operator's browser is connected to the follower.
    std::mem::swap(&mut site.manager, &mut follower);
    let path = format!("/api/v1/failovers/{}/failback", entry["id"]);
    let answer = eventually("a failback through the follower", || async {
        let (status, answer) = site.post(&path, serde_json::json!({})).await;
        (status == 200).then_some(answer)
    })
    .await;
    assert!(answer["duration_ms"].is_i64(), "{answer}");
    let entries = failovers_of(&site, "rec-1").await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["status"], "finalized");
    assert_eq!(entries[0]["failback_trigger"], "manual");
    site.wait_state("fo-1", "standby").await;
    site.wait_state("rec-1", "ok").await;
    // The leader stayed the leader; it only watched.
    let still = leader_seen_by(&site, &site.manager, None).await;
    assert_eq!(still["id"], leader["id"]);
    drop(follower);
}
