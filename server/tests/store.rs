//! The store's test suite, run against SQLite and PostgreSQL alike.

mod common;

use app::model::{ServerKind, ServerState};
use chrono::Utc;
use standby::store::{self, HealthRecord, ServerSettings, SharedStore, StoreError};

fn recorder(name: &str) -> ServerSettings {
    ServerSettings {
        name: name.to_owned(),
        address: "http://127.0.0.1:4001".to_owned(),
        kind: ServerKind::Recorder,
        failover_enabled: true,
        auto_failback: false,
        maintenance_mode: false,
    }
}

async fn servers_round_trip(store: SharedStore) {
    let added = store.insert_server(&recorder("Recorder 1")).await.unwrap();
    assert_eq!(added.name, "Recorder 1");
    assert_eq!(added.state, ServerState::Unreachable);
    assert_eq!(added.last_seen_at, None);
    assert!(!added.auto_failback);

    let mut failover = recorder("Failover 1");
    failover.kind = ServerKind::Failover;
    let failover = store.insert_server(&failover).await.unwrap();

    // Names are unique regardless of case.
    let duplicate = store.insert_server(&recorder("recorder 1")).await;
    assert!(matches!(duplicate, Err(StoreError::Duplicate { .. })), "{duplicate:?}");

    let mut changed = recorder("Recorder 1b");
    changed.maintenance_mode = true;
    let updated = store.update_server(added.id, &changed).await.unwrap().unwrap();
    assert_eq!(updated.name, "Recorder 1b");
    assert!(updated.maintenance_mode);
    assert!(store.update_server(9_999, &changed).await.unwrap().is_none());
    let clash = store.update_server(failover.id, &recorder("RECORDER 1B")).await;
    assert!(matches!(clash, Err(StoreError::Duplicate { .. })), "{clash:?}");

    let seen = Utc::now();
    store
        .record_health(&[
            HealthRecord { server_id: added.id, state: ServerState::Ok, seen_at: Some(seen) },
            HealthRecord { server_id: failover.id, state: ServerState::Unreachable, seen_at: None },
        ])
        .await
        .unwrap();
    let after = store.server(added.id).await.unwrap().unwrap();
    assert_eq!(after.state, ServerState::Ok);
    let stored = after.last_seen_at.expect("last seen recorded");
    assert!((stored - seen).num_milliseconds().abs() < 1, "{stored} vs {seen}");

    // An unanswered check keeps the last time the server was seen.
    store
        .record_health(&[HealthRecord {
            server_id: added.id,
            state: ServerState::Unreachable,
            seen_at: None,
        }])
        .await
        .unwrap();
    let lost = store.server(added.id).await.unwrap().unwrap();
    assert_eq!(lost.state, ServerState::Unreachable);
    assert_eq!(lost.last_seen_at, after.last_seen_at);

    let all = store.list_servers().await.unwrap();
    let names: Vec<_> = all.iter().map(|server| server.name.as_str()).collect();
    assert_eq!(names, ["Recorder 1b", "Failover 1"], "recorders first, then failover servers");
    assert_eq!(store.server_by_name("recorder 1B").await.unwrap().map(|s| s.id), Some(added.id));
    assert!(store.server(12_345).await.unwrap().is_none());
}

#[tokio::test]
async fn sqlite_store() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("standby.db").display());
    servers_round_trip(store::open(&url).await.unwrap()).await;
    // Opening again applies no migration twice and keeps the data.
    let reopened = store::open(&url).await.unwrap();
    assert_eq!(reopened.list_servers().await.unwrap().len(), 2);
}

#[tokio::test]
async fn postgres_store() {
    let Some(database) = common::postgres::fresh_database("store").await else { return };
    servers_round_trip(store::open(&database.url).await.unwrap()).await;
    let reopened = store::open(&database.url).await.unwrap();
    assert_eq!(reopened.list_servers().await.unwrap().len(), 2);
}

#[tokio::test]
async fn unknown_database_urls_are_refused() {
    let refused = store::open("mysql://localhost/standby").await;
    assert!(matches!(refused, Err(StoreError::UnsupportedUrl(_))));
}
