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
    let entry: Value = eventually("rec-1 failed over once the database is back", || async {
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
    .await;
    assert_eq!(entry["failover_server"]["name"], "fo-1", "{entry}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let open = site.failovers("?state=active").await;
    assert!(
        open.iter().all(|entry| entry["status"] == "active"),
        "an entry stuck mid-step: {open:?}"
    );
    drop(site);
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
