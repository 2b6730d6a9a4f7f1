//! The store's test suite, run against SQLite and PostgreSQL alike.

use app::model::{
    AuditFilter, FailoverFilter, FailoverSection, FailoverStatus, ServerKind, ServerState,
};
use app::rights::{Role, Scope};
use chrono::Utc;
use standby::store::{
    self, HealthRecord, NewAudit, SEEN_PER_STATEMENT, ServerSettings, SharedStore, StoreError,
};

fn recorder(name: &str) -> ServerSettings {
    ServerSettings {
        name: name.to_owned(),
        address: "http://127.0.0.1:4001".to_owned(),
        kind: ServerKind::Recorder,
        failover_enabled: true,
        auto_failback: false,
        maintenance_mode: false,
        copy_after_failback: false,
    }
}

async fn servers_round_trip(store: SharedStore) {
    let added = store.insert_server(&recorder("Recorder 1")).await.unwrap();
    assert_eq!(added.name, "Recorder 1");
    assert_eq!(added.state, ServerState::Unreachable);
    assert_eq!(added.last_seen_at, None);
    assert!(!added.auto_failback);
    assert!(!added.copy_after_failback);

    let mut failover = recorder("Failover 1");
    failover.kind = ServerKind::Failover;
    let failover = store.insert_server(&failover).await.unwrap();
    let address = "http://127.0.0.1:4001";
    let other = store.other_server_at(address, Some(added.id)).await.unwrap();
    assert_eq!(other.map(|server| server.id), Some(failover.id));
    assert!(store.other_server_at("http://127.0.0.1:9", None).await.unwrap().is_none());

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
            HealthRecord {
                server_id: added.id,
                read_state: ServerState::Unreachable,
                state: ServerState::Ok,
                seen_at: Some(seen),
            },
            HealthRecord {
                server_id: failover.id,
                read_state: ServerState::Unreachable,
                state: ServerState::Unreachable,
                seen_at: None,
            },
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
            read_state: ServerState::Ok,
            state: ServerState::Unreachable,
            seen_at: None,
        }])
        .await
        .unwrap();
    let lost = store.server(added.id).await.unwrap().unwrap();
    assert_eq!(lost.state, ServerState::Unreachable);
    assert_eq!(lost.last_seen_at, after.last_seen_at);

    // A round that read a state someone else has changed since (a failback committing during
    // the checks) records the sighting but leaves the state alone.
    let late = Utc::now();
    store
        .record_health(&[HealthRecord {
            server_id: added.id,
            read_state: ServerState::Broken,
            state: ServerState::Broken,
            seen_at: Some(late),
        }])
        .await
        .unwrap();
    let kept = store.server(added.id).await.unwrap().unwrap();
    assert_eq!(kept.state, ServerState::Unreachable, "not overwritten from a stale read");
    assert!(kept.last_seen_at > after.last_seen_at);

    // "Last seen" alone, for more servers than one statement takes: each gets its own time, the
    // state stays, and ids that are not servers change nothing.
    let mut many = vec![added.id, failover.id];
    for index in 0..SEEN_PER_STATEMENT {
        many.push(store.insert_server(&recorder(&format!("bulk-{index}"))).await.unwrap().id);
    }
    let base = Utc::now();
    let mut seen: Vec<_> = many
        .iter()
        .enumerate()
        .map(|(index, id)| (*id, base + chrono::Duration::milliseconds(index as i64)))
        .collect();
    seen.push((987_654, base));
    store.record_seen(&seen).await.unwrap();
    for (id, at) in &seen[..many.len()] {
        let server = store.server(*id).await.unwrap().unwrap();
        let stored = server.last_seen_at.expect("last seen recorded");
        assert!((stored - *at).num_milliseconds().abs() < 1, "{id}: {stored} vs {at}");
    }
    assert_eq!(store.server(added.id).await.unwrap().unwrap().state, ServerState::Unreachable);
    store.record_seen(&[]).await.unwrap();
    for id in &many[2..] {
        assert!(store.remove_server(*id, Utc::now()).await.unwrap());
    }

    let all = store.list_servers().await.unwrap();
    let names: Vec<_> = all.iter().map(|server| server.name.as_str()).collect();
    assert_eq!(names, ["Recorder 1b", "Failover 1"], "recorders first, then failover servers");
    assert_eq!(store.server_by_name("recorder 1B").await.unwrap().map(|s| s.id), Some(added.id));
    assert!(store.server(12_345).await.unwrap().is_none());
}

async fn users_sessions_tokens(store: SharedStore) {
    let user = store.insert_user("Alice", "hash-1", Role::Operator).await.unwrap();
    assert_eq!((user.name.as_str(), user.role), ("Alice", Role::Operator));
    let duplicate = store.insert_user("ALICE", "hash-2", Role::Viewer).await;
    assert!(matches!(duplicate, Err(StoreError::Duplicate { what: "user", .. })), "{duplicate:?}");
    let (found, hash) = store.credentials("alice").await.unwrap().unwrap();
    assert_eq!((found.id, hash.as_str()), (user.id, "hash-1"));
    assert!(store.credentials("bob").await.unwrap().is_none());

    let now = Utc::now();
    store.insert_session("s1", user.id, now, now + chrono::Duration::hours(1)).await.unwrap();
    let session = store.session("s1").await.unwrap().unwrap();
    assert_eq!(session.user.name, "Alice");
    store.touch_session("s1", now + chrono::Duration::minutes(5)).await.unwrap();
    let touched = store.session("s1").await.unwrap().unwrap();
    assert!(touched.last_used_at > session.last_used_at);
    // A new password ends the user's sessions.
    assert!(store.set_password("alice", "hash-3").await.unwrap());
    assert!(store.session("s1").await.unwrap().is_none());
    assert!(!store.set_password("bob", "hash").await.unwrap());
    assert!(store.set_role("alice", Role::Admin).await.unwrap());
    assert_eq!(store.list_users().await.unwrap()[0].role, Role::Admin);

    let token =
        store.insert_token("wall", "t-hash", Role::Viewer, Scope::Full, "Alice").await.unwrap();
    assert_eq!(store.token_by_secret("t-hash").await.unwrap().unwrap().id, token.id);
    store.touch_token(token.id, now).await.unwrap();
    let revoked = store.revoke_token(token.id).await.unwrap().unwrap();
    let first_revocation = revoked.revoked_at.expect("revoked");
    let again = store.revoke_token(token.id).await.unwrap().unwrap();
    assert_eq!(again.revoked_at, Some(first_revocation), "revoking twice keeps the first time");
    assert!(store.revoke_token(999).await.unwrap().is_none());
    assert!(store.list_tokens().await.unwrap()[0].last_used_at.is_some());

    store.insert_session("s2", user.id, now, now + chrono::Duration::hours(1)).await.unwrap();
    // The last administrator can be neither removed nor demoted.
    assert!(matches!(store.remove_user("alice").await, Err(StoreError::LastAdmin)));
    assert!(matches!(store.set_role("ALICE", Role::Viewer).await, Err(StoreError::LastAdmin)));
    store.insert_user("bob", "hash-b", Role::Admin).await.unwrap();
    assert!(store.remove_user("alice").await.unwrap());
    assert!(matches!(store.remove_user("bob").await, Err(StoreError::LastAdmin)));
    assert!(store.session("s2").await.unwrap().is_none(), "sessions go with their user");
}

async fn audit_is_append_only(store: SharedStore) {
    for (actor, action, outcome) in [
        ("alice", "login", "ok"),
        ("bob", "login", "bad_credentials"),
        ("alice", "server.add", "ok"),
    ] {
        let entry = NewAudit {
            at: Utc::now(),
            actor: actor.into(),
            address: Some("10.0.0.1".into()),
            action: action.into(),
            target: None,
            outcome: outcome.into(),
            detail: None,
        };
        store.append_audit(&entry).await.unwrap();
    }
    let all = store.list_audit(&AuditFilter::default()).await.unwrap();
    assert_eq!(
        all.iter().map(|line| line.action.as_str()).collect::<Vec<_>>(),
        ["server.add", "login", "login"]
    );
    let alice = store
        .list_audit(&AuditFilter { actor: Some("ALICE".into()), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(alice.len(), 2);
    let refusals =
        store.list_audit(&AuditFilter { failures_only: true, ..Default::default() }).await.unwrap();
    assert_eq!(refusals.len(), 1);
    assert_eq!(refusals[0].actor, "bob");
    let logins = store
        .list_audit(&AuditFilter {
            action: Some("login".into()),
            limit: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(logins.len(), 1);
    let older = store
        .list_audit(&AuditFilter { before_id: Some(logins[0].id), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(older.len(), 1);
}

/// A failover through to failback, then material copying: waiting with a reason, done.
async fn failover_log_and_copy_progress(store: SharedStore) {
    use app::model::{ChannelCopy, CopyStatus};
    use chrono::TimeZone;
    let recorder = store.insert_server(&recorder("Recorder C")).await.unwrap();
    let mut failover = self::recorder("Failover C");
    failover.kind = ServerKind::Failover;
    let failover = store.insert_server(&failover).await.unwrap();
    let at = |minute| Utc.with_ymd_and_hms(2026, 11, 25, 6, minute, 0).unwrap();
    let id = store.begin_failover(recorder.id, failover.id, at(0), None).await.unwrap();
    assert!(store.complete_failover(id, recorder.id, failover.id, at(1)).await.unwrap());
    assert!(store.begin_failback(id, at(5), "manual", "alice", None).await.unwrap());
    assert!(!store.begin_failback(id, at(5), "manual", "bob", None).await.unwrap(), "one failback");
    assert!(store.complete_failback(id, recorder.id, failover.id, at(6)).await.unwrap());

    store.start_copy(id, at(7)).await.unwrap();
    let queued = store.failover(id).await.unwrap().unwrap();
    assert_eq!((queued.copy.status, queued.copy.started_at), (CopyStatus::Queued, Some(at(7))));
    let mut channels = vec![ChannelCopy {
        channel: "video-1".into(),
        kind: "video".into(),
        status: CopyStatus::Copying,
        copied_until: Some(at(2)),
        bytes: 1_000_000,
    }];
    let why = "Failover C is not reachable at http://127.0.0.1:4002 (Connection refused).";
    store.save_copy_progress(id, CopyStatus::Queued, Some(why), &channels).await.unwrap();
    let waiting = store.failover(id).await.unwrap().unwrap();
    assert_eq!(waiting.copy.error.as_deref(), Some(why));
    assert_eq!(store.copy_channels(id).await.unwrap(), channels);
    assert_eq!(store.copies_in_progress().await.unwrap()[0].id, id);

    // Started again (by hand): the old reason no longer holds.
    store.start_copy(id, at(8)).await.unwrap();
    assert_eq!(store.failover(id).await.unwrap().unwrap().copy.error, None);

    channels[0].status = CopyStatus::Done;
    channels[0].copied_until = Some(at(6));
    store.save_copy_progress(id, CopyStatus::Done, None, &channels).await.unwrap();
    let done = store.failover(id).await.unwrap().unwrap();
    assert_eq!((done.copy.status, done.copy.error), (CopyStatus::Done, None));
    assert_eq!(store.copy_channels(id).await.unwrap(), channels);
    assert!(store.copies_in_progress().await.unwrap().is_empty());

    // The log's filters, each alone and together, with their counts.
    let other = store.insert_server(&self::recorder("Recorder D")).await.unwrap();
    let free = "No failover server is free";
    let refused = store
        .record_refusal(other.id, None, at(10), "no_failover_server", free, None)
        .await
        .unwrap();
    let open = store.begin_failover(other.id, failover.id, at(11), None).await.unwrap();
    assert!(store.complete_failover(open, other.id, failover.id, at(12)).await.unwrap());
    let ids = |filter: FailoverFilter| {
        let store = store.clone();
        async move {
            let page = store.failovers(&filter).await.unwrap();
            let total = store.count_failovers(&filter).await.unwrap();
            (page.into_iter().map(|entry| entry.id).collect::<Vec<_>>(), total)
        }
    };
    let section = |state| FailoverFilter { state: Some(state), ..Default::default() };
    assert_eq!(ids(FailoverFilter::default()).await, (vec![open, refused, id], 3));
    assert_eq!(ids(section(FailoverSection::Active)).await, (vec![open], 1));
    assert_eq!(ids(section(FailoverSection::Finalized)).await, (vec![refused, id], 2));
    let of_d = FailoverFilter { recorder_id: Some(other.id), ..Default::default() };
    assert_eq!(ids(of_d.clone()).await, (vec![open, refused], 2));
    let failed = FailoverFilter { status: Some(FailoverStatus::Failed), ..of_d.clone() };
    assert_eq!(ids(failed).await, (vec![refused], 1));
    let search = |text: &str| FailoverFilter { search: Some(text.into()), ..Default::default() };
    assert_eq!(ids(search("ALICE")).await, (vec![id], 1), "who failed back");
    assert_eq!(ids(search("recorder d")).await, (vec![open, refused], 2), "the recorder");
    assert_eq!(ids(search("failover c")).await, (vec![open, id], 2), "the failover server");
    assert_eq!(ids(search("is free")).await, (vec![refused], 1), "the error");
    assert_eq!(ids(search("100%")).await, (vec![], 0), "wildcards are text");
    let paged = FailoverFilter { limit: Some(1), offset: Some(1), ..Default::default() };
    assert_eq!(ids(paged).await, (vec![refused], 3), "a page; the total of all matches");
    let past = FailoverFilter { offset: Some(50), ..section(FailoverSection::Finalized) };
    assert_eq!(ids(past).await, (vec![], 2));

    // A leg whose failover server was lost ends as superseded, once, with that server only,
    // and frees the server for the recorder's next leg.
    assert!(!store.supersede_failover(open, other.id, at(13), None).await.unwrap());
    assert!(store.supersede_failover(open, failover.id, at(13), None).await.unwrap());
    assert!(!store.supersede_failover(open, failover.id, at(14), None).await.unwrap(), "once");
    let closed = store.failover(open).await.unwrap().unwrap();
    assert_eq!(
        (closed.status, closed.failback_trigger.as_deref(), closed.failback_finished_at),
        (FailoverStatus::Finalized, Some("superseded"), Some(at(13)))
    );
    assert_eq!(store.server(failover.id).await.unwrap().unwrap().acting_for, None);
    // A restore is a trigger the log knows (migration 9); others are still refused.
    let next = store.begin_failover(other.id, failover.id, at(15), None).await.unwrap();
    assert!(store.complete_failover(next, other.id, failover.id, at(15)).await.unwrap());
    assert!(store.begin_failback(next, at(16), "restored", "carol", None).await.unwrap());
    assert!(store.rollback_failback(next).await.unwrap());
    let unknown = store.begin_failback(next, at(16), "sideways", "carol", None).await;
    assert!(unknown.is_err(), "the log's triggers are checked: {unknown:?}");
}

#[tokio::test]
async fn sqlite_store() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("standby.db").display());
    servers_round_trip(store::open(&url).await.unwrap()).await;
    users_sessions_tokens(store::open(&url).await.unwrap()).await;
    audit_is_append_only(store::open(&url).await.unwrap()).await;
    refuses_to_change_the_audit_trail(&url).await;
    // Opening again applies no migration twice and keeps the data.
    let reopened = store::open(&url).await.unwrap();
    assert_eq!(reopened.list_servers().await.unwrap().len(), 2);
    let log = format!("sqlite://{}", dir.path().join("log.db").display());
    failover_log_and_copy_progress(store::open(&log).await.unwrap()).await;
}

#[tokio::test]
async fn postgres_store() {
    let Some(database) = testkit::postgres::fresh_database("store").await else { return };
    servers_round_trip(store::open(&database.url).await.unwrap()).await;
    users_sessions_tokens(store::open(&database.url).await.unwrap()).await;
    audit_is_append_only(store::open(&database.url).await.unwrap()).await;
    refuses_to_change_the_audit_trail(&database.url).await;
    let reopened = store::open(&database.url).await.unwrap();
    assert_eq!(reopened.list_servers().await.unwrap().len(), 2);
    let Some(log) = testkit::postgres::fresh_database("store_log").await else { return };
    failover_log_and_copy_progress(store::open(&log.url).await.unwrap()).await;
}

/// Even SQL outside the application cannot rewrite history.
async fn refuses_to_change_the_audit_trail(url: &str) {
    use sqlx::Connection;
    if url.starts_with("sqlite") {
        let mut connection = sqlx::SqliteConnection::connect(url).await.unwrap();
        assert!(
            sqlx::query("UPDATE audit SET actor = 'x'").execute(&mut connection).await.is_err()
        );
        assert!(sqlx::query("DELETE FROM audit").execute(&mut connection).await.is_err());
    } else {
        let mut connection = sqlx::PgConnection::connect(url).await.unwrap();
        assert!(
            sqlx::query("UPDATE audit SET actor = 'x'").execute(&mut connection).await.is_err()
        );
        assert!(sqlx::query("DELETE FROM audit").execute(&mut connection).await.is_err());
    }
}

#[tokio::test]
async fn unknown_database_urls_are_refused() {
    let refused = store::open("mysql://localhost/standby").await;
    assert!(matches!(refused, Err(StoreError::UnsupportedUrl(_))));
}

/// The leader's own writes pass only in its current term: an older epoch, or its own after the
/// lease ran out, is refused in the statement that would open the entry.
#[tokio::test]
async fn a_failover_opens_only_in_the_current_term_of_leadership() {
    use sqlx::Connection;
    let Some(database) = testkit::postgres::fresh_database("store_fence").await else { return };
    let store = store::open(&database.url).await.unwrap();
    let recorder = store.insert_server(&recorder("Recorder F")).await.unwrap();
    let mut failover = self::recorder("Failover F");
    failover.kind = ServerKind::Failover;
    failover.address = "http://127.0.0.1:4002".to_owned();
    let failover = store.insert_server(&failover).await.unwrap();
    let mut sql = sqlx::PgConnection::connect(&database.url).await.unwrap();
    sqlx::query(
        "INSERT INTO leadership (name, holder, epoch, elected_at, expires_at) \
         VALUES ('leader', 'm-1', 5, now(), now() + interval '1 minute')",
    )
    .execute(&mut sql)
    .await
    .unwrap();
    let open = |epoch| store.begin_failover(recorder.id, failover.id, Utc::now(), Some(epoch));
    assert!(matches!(open(4).await, Err(StoreError::NotLeader)), "an older term");
    assert!(store.failovers(&FailoverFilter::default()).await.unwrap().is_empty());
    let id = open(5).await.expect("the current term opens it");
    assert!(store.abandon_failover(id, FailoverStatus::FailingOver, "x", "y").await.unwrap());
    sqlx::query("UPDATE leadership SET expires_at = now() - interval '1 second'")
        .execute(&mut sql)
        .await
        .unwrap();
    assert!(matches!(open(5).await, Err(StoreError::NotLeader)), "a lease that ran out");
    let refusal = store.record_refusal(recorder.id, None, Utc::now(), "x", "y", Some(5)).await;
    assert!(matches!(refusal, Err(StoreError::NotLeader)), "nor a refusal");
    assert!(
        !store.begin_failback(id, Utc::now(), "automatic", "automatic", Some(5)).await.unwrap(),
        "no failback from a lease that ran out either"
    );
}
