//! The ordered checks of failover and failback against fake recorders and a real (SQLite) store:
//! each refusal, in the seed's order, and the step that follows once it is cleared.

use super::failover::Cause;
use super::{Engine, Parts};
use crate::monitor::MonitorConfig;
use crate::recorders::{
    CopyTask, Endpoint, Health, HealthBeats, Peer, RecorderApi, RecorderError, StartDataCopy,
};
use crate::store::{CachedSettings, HealthRecord, ServerSettings, SharedStore};
use app::failure::Failure;
use app::model::{Failover, FailoverStatus, LicenceUpdate, Server, ServerKind, ServerState};
use app::port::Console;
use app::rights::Caller;
use async_trait::async_trait;
use chrono::Utc;
use futures::StreamExt;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One fake agent: what it answers and what it was told.
#[derive(Debug, Clone)]
struct FakeAgent {
    name: String,
    kind: agent_api::ServerKind,
    up: bool,
    acting_for: Option<String>,
    refuses_to_act: bool,
    refuses_settings: bool,
}

#[derive(Default)]
struct FakeRecorders {
    agents: Mutex<HashMap<String, FakeAgent>>,
    told: Mutex<Vec<String>>,
}

impl FakeRecorders {
    fn agent<T>(&self, address: &str, change: impl FnOnce(&mut FakeAgent) -> T) -> T {
        let mut agents = self.agents.lock().unwrap();
        change(agents.get_mut(address).expect("a fake agent at that address"))
    }

    fn reachable(&self, at: &Endpoint) -> Result<FakeAgent, RecorderError> {
        let agent = self.agents.lock().unwrap().get(&at.address).cloned();
        match agent {
            Some(agent) if agent.up => Ok(agent),
            _ => Err(RecorderError::Unreachable {
                address: at.address.clone(),
                reason: "Connection refused".into(),
            }),
        }
    }

    fn told(&self) -> Vec<String> {
        self.told.lock().unwrap().clone()
    }
}

#[async_trait]
impl RecorderApi for FakeRecorders {
    async fn health(&self, at: &Endpoint, _timeout: Duration) -> Result<Health, RecorderError> {
        let agent = self.reachable(at)?;
        Ok(Health {
            name: agent.name,
            kind: agent.kind,
            acting_for: agent.acting_for,
            settings_version: 1,
            recording: true,
            load: None,
            capacity: None,
        })
    }

    /// One heartbeat, then the stream ends (the ordered checks never watch).
    async fn health_stream(
        &self,
        at: &Endpoint,
        every: Duration,
    ) -> Result<HealthBeats, RecorderError> {
        let beat = self.health(at, every).await?;
        Ok(futures::stream::iter([Ok(beat)]).boxed())
    }

    async fn settings(&self, at: &Endpoint) -> Result<serde_json::Value, RecorderError> {
        self.reachable(at)?;
        Ok(json!({ "version": 1, "channels": [] }))
    }

    async fn replace_settings(
        &self,
        at: &Endpoint,
        _bundle: &serde_json::Value,
    ) -> Result<(), RecorderError> {
        let agent = self.reachable(at)?;
        if agent.refuses_settings {
            self.told.lock().unwrap().push(format!("settings refused by {}", at.name));
            return Err(RecorderError::Refused {
                address: at.address.clone(),
                status: 400,
                message: "not a bundle".into(),
            });
        }
        self.told.lock().unwrap().push(format!("settings → {}", at.name));
        Ok(())
    }

    async fn act_for(
        &self,
        at: &Endpoint,
        recorder: &str,
        _bundle: &serde_json::Value,
    ) -> Result<(), RecorderError> {
        let agent = self.reachable(at)?;
        if agent.refuses_to_act {
            return Err(RecorderError::Refused {
                address: at.address.clone(),
                status: 409,
                message: "busy".into(),
            });
        }
        self.agent(&at.address, |agent| agent.acting_for = Some(recorder.to_owned()));
        self.told.lock().unwrap().push(format!("{} acts for {recorder}", at.name));
        Ok(())
    }

    async fn holdings(
        &self,
        at: &Endpoint,
        channel: &str,
        _from: chrono::DateTime<chrono::Utc>,
        _to: chrono::DateTime<chrono::Utc>,
    ) -> Result<crate::recorders::ChannelHoldings, RecorderError> {
        self.reachable(at)?;
        Ok(crate::recorders::ChannelHoldings {
            channel: channel.to_owned(),
            kind: agent_api::ChannelKind::Video,
            stretches: Vec::new(),
        })
    }

    async fn remove_records(
        &self,
        at: &Endpoint,
        _channel: &str,
        _origin: &str,
        _from: chrono::DateTime<chrono::Utc>,
        _to: chrono::DateTime<chrono::Utc>,
    ) -> Result<crate::recorders::Removed, RecorderError> {
        self.reachable(at)?;
        Ok(crate::recorders::Removed::default())
    }

    async fn stop_acting(&self, at: &Endpoint, recorder: &str) -> Result<(), RecorderError> {
        self.reachable(at)?;
        self.agent(&at.address, |agent| agent.acting_for = None);
        self.told.lock().unwrap().push(format!("{} stops acting for {recorder}", at.name));
        Ok(())
    }

    async fn start_data_copy(
        &self,
        at: &Endpoint,
        _task: &StartDataCopy,
    ) -> Result<CopyTask, RecorderError> {
        Err(RecorderError::Unreachable { address: at.address.clone(), reason: "fake".into() })
    }

    async fn update_client_info(
        &self,
        at: &Endpoint,
        _task_id: i64,
        _source: &Peer,
    ) -> Result<CopyTask, RecorderError> {
        Err(RecorderError::Unreachable { address: at.address.clone(), reason: "fake".into() })
    }

    async fn copy_task(
        &self,
        _at: &Endpoint,
        _failover_id: i64,
    ) -> Result<Option<CopyTask>, RecorderError> {
        Ok(None)
    }

    async fn rotate_secret(&self, at: &Endpoint, _new: &str) -> Result<(), RecorderError> {
        self.reachable(at)?;
        self.told.lock().unwrap().push(format!("{} rotates its secret", at.name));
        Ok(())
    }
}

/// A recorder `rec-1` and a failover server `fo-1`, both answering, nothing else set up.
struct Site {
    engine: Arc<Engine>,
    store: SharedStore,
    fakes: Arc<FakeRecorders>,
    recorder: Server,
    failover_server: Server,
    _dir: tempfile::TempDir,
}

const RECORDER: &str = "http://rec-1:1";
const FAILOVER_SERVER: &str = "http://fo-1:1";

async fn site() -> Site {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("standby.db").display());
    let store = crate::store::open(&url).await.unwrap();
    let fakes = Arc::new(FakeRecorders::default());
    let mut servers = Vec::new();
    for (name, address, kind) in
        [("rec-1", RECORDER, ServerKind::Recorder), ("fo-1", FAILOVER_SERVER, ServerKind::Failover)]
    {
        let settings = ServerSettings {
            name: name.into(),
            address: address.into(),
            kind,
            failover_enabled: true,
            auto_failback: true,
            maintenance_mode: false,
            copy_after_failback: false,
        };
        servers.push(store.insert_server(&settings).await.unwrap());
        let agent = FakeAgent {
            name: name.into(),
            kind: match kind {
                ServerKind::Recorder => agent_api::ServerKind::Recorder,
                ServerKind::Failover => agent_api::ServerKind::Failover,
            },
            up: true,
            acting_for: None,
            refuses_to_act: false,
            refuses_settings: false,
        };
        fakes.agents.lock().unwrap().insert(address.into(), agent);
    }
    let parts = Parts {
        recorders: fakes.clone(),
        monitor: MonitorConfig { check_timeout: Duration::from_millis(50), ..Default::default() },
        ..Parts::new(store.clone())
    };
    let engine = Engine::new(parts);
    let failover_server = servers.pop().unwrap();
    let recorder = servers.pop().unwrap();
    let site = Site { engine, store, fakes, recorder, failover_server, _dir: dir };
    site.set_state(&site.failover_server, ServerState::Standby).await;
    site.set_state(&site.recorder, ServerState::Ok).await;
    site
}

impl Site {
    async fn set_state(&self, server: &Server, state: ServerState) {
        let current = self.store.server(server.id).await.unwrap().unwrap();
        let record = HealthRecord {
            server_id: server.id,
            read_state: current.state,
            state,
            seen_at: Some(Utc::now() - chrono::Duration::seconds(10)),
        };
        self.store.record_health(&[record]).await.unwrap();
    }

    async fn license(&self, failover_enabled: bool) {
        let update = LicenceUpdate { failover_enabled, failover_servers: 2 };
        self.store.set_licence(&update, "test").await.unwrap();
    }

    async fn cache_settings(&self) {
        let settings = CachedSettings {
            version: 1,
            bundle: json!({ "version": 1, "channels": [] }),
            fetched_at: Utc::now(),
        };
        self.store.cache_settings(self.recorder.id, &settings).await.unwrap();
    }

    async fn recorder_now(&self) -> Server {
        self.store.server(self.recorder.id).await.unwrap().unwrap()
    }

    /// Runs a failover of the recorder; the new failover log entry, if one was written.
    async fn fail_over(&self) -> Option<Failover> {
        let recorder = self.recorder_now().await;
        self.engine.fail_over(&recorder, Cause::Silent).await.expect("no internal error")
    }

    async fn fail_back(&self, id: i64) -> Result<(), Failure> {
        let operator = Caller::system("test");
        self.engine.failback(&operator, id).await.map(drop)
    }
}

fn refused_with(entry: Option<Failover>, code: &str) {
    let entry = entry.unwrap_or_else(|| panic!("no log entry; expected a {code} refusal"));
    assert_eq!(entry.status, FailoverStatus::Failed, "{entry:?}");
    assert_eq!(entry.error_code.as_deref(), Some(code), "{entry:?}");
}

#[tokio::test]
async fn failover_checks_refuse_in_order_then_the_recorder_moves() {
    let site = site().await;
    site.fakes.agent(RECORDER, |agent| agent.up = false);
    site.fakes.agent(FAILOVER_SERVER, |agent| agent.refuses_to_act = true);
    site.set_state(&site.failover_server, ServerState::Unreachable).await;

    // 1. The licence comes first: nothing else is looked at without it.
    refused_with(site.fail_over().await, "no_license");
    assert!(site.fail_over().await.is_none(), "the same refusal is recorded once per outage");
    site.license(true).await;

    // 2. A recorder that answers again is left alone, without an entry.
    site.fakes.agent(RECORDER, |agent| agent.up = true);
    assert!(site.fail_over().await.is_none());
    site.fakes.agent(RECORDER, |agent| agent.up = false);

    // 3. No free failover server in its group (here: the only one is unreachable).
    refused_with(site.fail_over().await, "no_failover_server");
    site.set_state(&site.failover_server, ServerState::Standby).await;

    // 4. No settings were ever read from the recorder.
    refused_with(site.fail_over().await, "no_recorder_settings");
    site.cache_settings().await;

    // 5. The failover server does not take the recorder over.
    refused_with(site.fail_over().await, "no_failover_server_connection");
    assert_eq!(
        site.store.server(site.failover_server.id).await.unwrap().unwrap().state,
        ServerState::Standby
    );
    site.fakes.agent(FAILOVER_SERVER, |agent| agent.refuses_to_act = false);

    // Every check passes: the failover server records for the recorder.
    let entry = site.fail_over().await.expect("a failover");
    assert_eq!(entry.status, FailoverStatus::Active);
    assert_eq!(site.recorder_now().await.state, ServerState::Broken);
    let server = site.store.server(site.failover_server.id).await.unwrap().unwrap();
    assert_eq!((server.state, server.acting_for.as_deref()), (ServerState::Acting, Some("rec-1")));
    assert_eq!(site.fakes.told(), ["fo-1 acts for rec-1"]);

    // And a second failover of the same recorder is skipped, not recorded.
    assert!(site.fail_over().await.is_none());
}

#[tokio::test]
async fn failback_checks_refuse_in_order_then_the_recorder_records_again() {
    let site = site().await;
    site.license(true).await;
    site.cache_settings().await;
    site.fakes.agent(RECORDER, |agent| agent.up = false);
    let entry = site.fail_over().await.expect("a failover");
    let code = |result: Result<(), Failure>| result.expect_err("a refusal").code;

    // 1. The entry must be an active failover.
    let refused = site
        .store
        .record_refusal(site.recorder.id, None, Utc::now(), "no_license", "test", None)
        .await
        .unwrap();
    assert_eq!(code(site.fail_back(refused).await), "failover_not_performed");

    // 2. The failover server must still act for the recorder.
    site.fakes.agent(FAILOVER_SERVER, |agent| agent.acting_for = None);
    assert_eq!(code(site.fail_back(entry.id).await), "failover_server_wrong_state");
    site.fakes.agent(FAILOVER_SERVER, |agent| agent.acting_for = Some("rec-1".into()));

    // 3. The failed server must still be broken.
    site.set_state(&site.recorder, ServerState::Ok).await;
    assert_eq!(code(site.fail_back(entry.id).await), "server_wrong_state");
    site.set_state(&site.recorder, ServerState::Broken).await;

    // The repaired server must answer at its address.
    assert_eq!(code(site.fail_back(entry.id).await), "no_recorder_connection");
    site.fakes.agent(RECORDER, |agent| agent.up = true);

    // 4. Failover must still be enabled in the licence.
    site.license(false).await;
    assert_eq!(code(site.fail_back(entry.id).await), "no_license");
    site.license(true).await;

    // A step that fails after the log said "started" rolls back: the failover goes on.
    site.fakes.agent(RECORDER, |agent| agent.refuses_settings = true);
    assert_eq!(code(site.fail_back(entry.id).await), "settings_saving_failed");
    let again = site.store.failover(entry.id).await.unwrap().unwrap();
    assert_eq!(again.status, FailoverStatus::Active);
    assert_eq!(
        site.fakes.agent(FAILOVER_SERVER, |agent| agent.acting_for.clone()).as_deref(),
        Some("rec-1")
    );
    site.fakes.agent(RECORDER, |agent| agent.refuses_settings = false);

    // Every check passes: the recorder gets its settings back before the failover server stops.
    site.fail_back(entry.id).await.expect("failback");
    let done = site.store.failover(entry.id).await.unwrap().unwrap();
    assert_eq!(done.status, FailoverStatus::Finalized);
    assert_eq!(site.recorder_now().await.state, ServerState::Ok);
    let told = site.fakes.told();
    let settings_at = told.iter().position(|line| line == "settings → rec-1").unwrap();
    let stop_at = told.iter().position(|line| line == "fo-1 stops acting for rec-1").unwrap();
    assert!(settings_at < stop_at, "no recording gap: {told:?}");

    // And a finalized entry cannot be failed back again.
    assert_eq!(code(site.fail_back(entry.id).await), "failback_already_performed");
}

#[tokio::test]
async fn every_door_action_checks_the_right_and_is_audited() {
    let site = site().await;
    let viewer = Caller { role: app::rights::Role::Viewer, ..Caller::system("vera") };
    let refused = site.engine.failback(&viewer, 1).await.expect_err("a viewer may not");
    assert_eq!(refused.code, "forbidden");
    let audit = site.engine.audit_trail(&Caller::system("test"), Default::default()).await.unwrap();
    let line = audit.first().expect("the refusal is in the audit trail");
    assert_eq!(
        (line.actor.as_str(), line.action.as_str(), line.outcome.as_str()),
        ("vera", "failback", "forbidden")
    );
}

/// A recorder back on the network that refuses its settings (e.g. its agent was reinstalled with
/// another secret) is not asked again at every monitor round, each time with a note and an
/// alert: the retries wait ever longer (1 s, 2 s, … up to 5 min).
#[tokio::test]
async fn a_refused_automatic_failback_is_retried_later_not_every_round() {
    use crate::monitor::Observer;
    let site = site().await;
    site.license(true).await;
    site.cache_settings().await;
    site.fakes.agent(RECORDER, |agent| agent.up = false);
    let entry = site.fail_over().await.expect("a failover");
    site.set_state(&site.recorder, ServerState::Broken).await;
    site.fakes.agent(RECORDER, |agent| {
        agent.up = true;
        agent.refuses_settings = true;
    });
    let reactions = super::reactions::Reactions::new(site.engine.clone());
    let since = std::time::Instant::now()
        .checked_sub(Duration::from_secs(3600))
        .expect("the machine has been up an hour");
    let refused =
        || site.fakes.told().iter().filter(|line| line.starts_with("settings refused")).count();
    // Monitor rounds for a quarter of a second: one attempt.
    for _ in 0..5 {
        reactions.answering(site.recorder_now().await, since);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(refused(), 1, "{:?}", site.fakes.told());
    // After the first wait (1 s), once more; then it waits 2 s.
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    for _ in 0..5 {
        reactions.answering(site.recorder_now().await, since);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(refused(), 2, "{:?}", site.fakes.told());
    let notes = site.store.notes(entry.id).await.unwrap();
    let errors = notes.iter().filter(|note| note.code == "settings_saving_failed").count();
    assert_eq!(errors, 2, "{notes:?}");

    // Repaired: the next attempt after the wait fails back.
    site.fakes.agent(RECORDER, |agent| agent.refuses_settings = false);
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    reactions.answering(site.recorder_now().await, since);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let done = site.store.failover(entry.id).await.unwrap().unwrap();
    assert_eq!(done.status, FailoverStatus::Finalized, "{done:?}");
}
