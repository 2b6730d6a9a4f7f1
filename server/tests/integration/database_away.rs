//! The database goes away under a running manager: a private PostgreSQL of the test's own,
//! stopped and started again (never the machine's shared server).

use crate::material_copy::SmallDisk;
use serde_json::{Value, json};
use std::time::Duration;
use testkit::postgres::PrivatePostgres;
use testkit::{Site, eventually};

#[tokio::test]
async fn while_the_database_is_away_callers_hear_so_and_the_manager_resumes_once_it_is_back() {
    let Some(postgres) = PrivatePostgres::start() else { return };
    let mut site = Site::start_on_database(&postgres.url, Some(1), &[]).await;
    site.covered(json!({ "auto_failback": false })).await;

    postgres.stop();
    // The API says that the database is away, not that the caller's token is wrong.
    let (status, answer) =
        testkit::http::send(&site.client, reqwest::Method::GET, &site.url("/api/v1/servers"), None)
            .await;
    assert_eq!((status, &answer["error"]), (503, &json!("database_unavailable")), "{answer}");
    assert!(answer["message"].as_str().unwrap_or_default().contains("cannot reach its database"));
    // So does a page, in a sentence, and it looks again by itself.
    let page = site.client.get(site.url("/failovers")).send().await.expect("the page answers");
    assert_eq!(page.status().as_u16(), 503);
    assert_eq!(page.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("5"));
    let html = page.text().await.expect("the page's body");
    assert!(html.contains("Standby cannot reach its database"), "{html}");
    // What needs no database still answers.
    let health = site.client.get(site.url("/healthz")).send().await.expect("healthz answers");
    assert_eq!(health.status().as_u16(), 200);

    // A recorder dies while the database is away.
    site.kill("rec-1").await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    // The database is back: the manager carries on by itself, and nothing is left mid-step.
    postgres.start_again();
    let entry = active_once_answering(&site, "rec-1 failed over once the database is back").await;
    assert_eq!(entry["failover_server"]["name"], "fo-1", "{entry}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let open = site.failovers("?state=active").await;
    assert!(
        open.iter().all(|entry| entry["status"] == "active"),
        "an entry stuck mid-step: {open:?}"
    );
    drop(site);
}

/// The first active entry, once the manager answers again (while the database is away it
/// answers 503, which [`Site::failovers`] would not take).
async fn active_once_answering(site: &Site, what: &str) -> Value {
    eventually(what, || async {
        let (status, entries) = testkit::http::send(
            &site.client,
            reqwest::Method::GET,
            &site.url("/api/v1/failovers?state=active"),
            None,
        )
        .await;
        (status == 200).then_some(())?;
        entries.as_array()?.iter().find(|entry| entry["status"] == "active").cloned()
    })
    .await
}

#[tokio::test]
async fn with_the_sqlite_files_disk_full_changes_are_refused_with_the_reason_and_reads_go_on() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let Some(disk) = SmallDisk::mount(&dir.path().join("db"), "16m") else { return };
    let url = format!("sqlite://{}", dir.path().join("db").join("standby.db").display());
    let site = Site::start_on_database(&url, Some(1), &[]).await;
    let server = |name: &str, host: u8| json!({ "name": name, "address": format!("http://127.0.0.{host}:9"), "kind": "recorder" });
    let (status, added) = site.post("/api/v1/servers", server("rec-a", 1)).await;
    assert_eq!(status, 201, "{added}");

    disk.fill();
    let (status, refused) = site.post("/api/v1/servers", server("rec-b", 2)).await;
    assert_eq!((status, &refused["error"]), (503, &json!("database_full")), "{refused}");
    assert!(refused["message"].as_str().unwrap_or_default().contains("no space left"), "{refused}");
    // What is there stays readable.
    let names: Vec<Value> =
        site.servers().await.into_iter().map(|server| server["name"].clone()).collect();
    assert_eq!(names, [json!("rec-a")]);

    // Space is freed: the same change goes through.
    disk.free();
    let (status, added) = site.post("/api/v1/servers", server("rec-b", 2)).await;
    assert_eq!(status, 201, "{added}");
    drop(site);
    drop(disk);
}

/// A site on its own PostgreSQL whose manager pauses at `step` until the test lets it go on. Its
/// lease outlives any outage of the test, so the term goes on: only the leader's look for
/// entries left mid-step can finish what the outage cut, not a new term's recovery.
async fn paused_at(step: &str, postgres: &PrivatePostgres) -> (Site, Pause) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let pause = dir.path().join("paused");
    let flags = ["--lease-ms", "600000", "--renew-ms", "1000", "--mid-step-timeout-ms", "3000"];
    let file = pause.display().to_string();
    let env = [("STANDBY_TEST_PAUSE_AT", step), ("STANDBY_TEST_PAUSE_FILE", file.as_str())];
    let mut site = Site::start_on_database_with_env(&postgres.url, Some(1), &flags, &env).await;
    site.covered(json!({ "auto_failback": false })).await;
    (site, Pause { file: pause, _dir: dir })
}

/// Where the manager says it has paused, and the folder that holds it.
struct Pause {
    file: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

/// Once the manager has paused at its step: the database goes away, the step goes on and fails
/// for want of it, and so does the rollback that follows a failed failback (each waits up to 5 s
/// for a connection), and the database comes back.
async fn cut_by_an_outage(postgres: &PrivatePostgres, pause: &Pause) {
    let pause = pause.file.as_path();
    eventually("the manager paused at its step", || async { pause.exists().then_some(()) }).await;
    postgres.stop();
    std::fs::remove_file(pause).expect("the pause file removed");
    tokio::time::sleep(Duration::from_secs(12)).await;
    postgres.start_again();
}

/// The entry's notes, once one says the steps were resumed after stopping halfway.
async fn resumed_note(site: &Site, id: &Value) -> String {
    eventually("a note that the entry was resumed", || async {
        let (status, detail) = testkit::http::send(
            &site.client,
            reqwest::Method::GET,
            &site.url(&format!("/api/v1/failovers/{id}")),
            None,
        )
        .await;
        let notes = (status == 200).then(|| detail["notes"].to_string())?;
        notes.contains("The steps stopped halfway").then_some(notes)
    })
    .await
}

#[tokio::test]
async fn a_failover_cut_between_two_steps_by_a_database_outage_is_finished_without_a_restart() {
    let Some(postgres) = PrivatePostgres::start() else { return };
    let (mut site, pause) = paused_at("failover:acting", &postgres).await;
    site.kill("rec-1").await;
    cut_by_an_outage(&postgres, &pause).await;

    // The failover server did take over before the outage: the failover is completed.
    let entry = active_once_answering(&site, "rec-1's failover active").await;
    assert_eq!(entry["failover_server"]["name"], "fo-1", "{entry}");
    let notes = resumed_note(&site, &entry["id"]).await;
    assert!(notes.contains("the failover was completed"), "{notes}");
    assert_eq!(site.server("fo-1").await["state"], "acting");
    drop(site);
}

#[tokio::test]
async fn a_failback_cut_between_two_steps_by_a_database_outage_is_finished_without_a_restart() {
    let Some(postgres) = PrivatePostgres::start() else { return };
    let (mut site, pause) = paused_at("failback:settings_set", &postgres).await;
    site.kill("rec-1").await;
    let entry: Value = eventually("rec-1 failed over", || async {
        site.failovers("?state=active").await.into_iter().find(|entry| entry["status"] == "active")
    })
    .await;
    site.agent("rec-1", "recorder").await;
    site.wait_state("rec-1", "broken").await;
    let pressed = {
        let (client, url) =
            (site.client.clone(), site.url(&format!("/api/v1/failovers/{}/failback", entry["id"])));
        tokio::spawn(async move { client.post(url).json(&json!({})).send().await })
    };
    cut_by_an_outage(&postgres, &pause).await;
    // The operator heard that it did not go through because the database was away.
    let answer = pressed.await.expect("the failback request's task").expect("an answer");
    assert_eq!(answer.status().as_u16(), 503);
    let said: Value = answer.json().await.expect("a JSON answer");
    assert_eq!(said["error"], "database_unavailable", "{said}");

    let finalized: Value = eventually("rec-1's failback finished", || async {
        let (status, detail) = testkit::http::send(
            &site.client,
            reqwest::Method::GET,
            &site.url(&format!("/api/v1/failovers/{}", entry["id"])),
            None,
        )
        .await;
        (status == 200 && detail["status"] == "finalized").then_some(detail)
    })
    .await;
    assert_eq!(finalized["failback_trigger"], "manual", "{finalized}");
    let notes = resumed_note(&site, &entry["id"]).await;
    assert!(notes.contains("during this failback"), "{notes}");
    assert_eq!(site.server("rec-1").await["state"], "ok");
    assert_eq!(site.server("fo-1").await["state"], "standby");
    drop(site);
}
