//! A real site for the failover and failback benchmarks: a `standby serve` process on a fresh
//! SQLite file with a licence and an admin token, one real recorder agent (`rec-1`) and one real
//! failover server (`fo-1`), plus any number of stand-in recorders answering health checks from
//! this process, all on 127.0.0.1.

use super::{
    Binaries, Process, client_with_token, create_token, get_json, ms_between, send_json,
    set_licence, start_manager, start_recorder, time_field, wait_for,
};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::{Duration, Instant};

pub const RECORDER: &str = "rec-1";
pub const FAILOVER: &str = "fo-1";

/// The monitor's timings, passed to `standby serve` as flags.
#[derive(Debug, Clone, Copy)]
pub struct MonitorFlags {
    pub interval_ms: u64,
    pub check_timeout_ms: u64,
    pub window_ms: u64,
}

impl MonitorFlags {
    /// The product's defaults (`standby serve` without flags).
    pub const DEFAULT: MonitorFlags =
        MonitorFlags { interval_ms: 1000, check_timeout_ms: 500, window_ms: 1500 };
    /// The integration tests' fast timings.
    pub const FAST: MonitorFlags =
        MonitorFlags { interval_ms: 200, check_timeout_ms: 300, window_ms: 600 };

    pub fn args(&self) -> Vec<String> {
        vec![
            "--monitor-interval-ms".into(),
            self.interval_ms.to_string(),
            "--check-timeout-ms".into(),
            self.check_timeout_ms.to_string(),
            "--failover-window-ms".into(),
            self.window_ms.to_string(),
        ]
    }

    pub fn describe(&self) -> String {
        format!(
            "interval {} ms, check timeout {} ms, window {} ms",
            self.interval_ms, self.check_timeout_ms, self.window_ms
        )
    }
}

pub struct Site<'a> {
    bins: &'a Binaries,
    pub dir: tempfile::TempDir,
    pub database_url: String,
    pub manager: Process,
    pub client: reqwest::Client,
    pub recorder: Process,
    pub recorder_port: u16,
    pub failover: Process,
    pub recorder_id: i64,
    /// Failover log entries already seen, so each kill finds its own.
    seen: HashSet<i64>,
}

/// What one SIGKILL led to.
pub struct Kill {
    pub killed_at: DateTime<Utc>,
    pub entry: Value,
    /// Kill until the poller saw the entry `active` (bounded by the polling period).
    pub observed_ms: f64,
}

impl Kill {
    pub fn entry_id(&self) -> i64 {
        self.entry["id"].as_i64().expect("a failover log entry has an id")
    }
    /// Kill → entry created (`failing_over`, failover_started_at): detection.
    pub fn detection_ms(&self) -> Option<f64> {
        time_field(&self.entry, "failover_started_at").map(|at| ms_between(self.killed_at, at))
    }
    /// Kill → entry `active` (failover_finished_at).
    pub fn active_ms(&self) -> Option<f64> {
        time_field(&self.entry, "failover_finished_at").map(|at| ms_between(self.killed_at, at))
    }
    /// The failover process itself: started → finished.
    pub fn process_ms(&self) -> Option<f64> {
        let started = time_field(&self.entry, "failover_started_at")?;
        let finished = time_field(&self.entry, "failover_finished_at")?;
        Some(ms_between(started, finished))
    }
}

/// A manual failback's outcome.
pub struct Failback {
    /// `duration_ms` of the answer: failback started → performed, as the manager measured it.
    pub duration_ms: f64,
    /// The POST's round trip as the client saw it.
    pub round_trip_ms: f64,
    /// Refusals (e.g. the recorder not reachable yet) before it was accepted.
    pub refusals: usize,
}

impl<'a> Site<'a> {
    /// Starts the manager with `flags`, the two real agents, and `stand_ins` stand-in
    /// recorders spread over `responders` (addresses may repeat; names are unique). Call
    /// [`Site::wait_ready`] before the first kill.
    pub async fn start(
        bins: &'a Binaries,
        flags: MonitorFlags,
        stand_ins: usize,
        responders: &[String],
    ) -> Site<'a> {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let database_url = format!("sqlite://{}", dir.path().join("standby.db").display());
        let token = create_token(bins, &database_url, "bench-admin", "admin").await;
        set_licence(bins, &database_url, 1).await;
        let manager = start_manager(bins, &database_url, &flags.args()).await;
        let client = client_with_token(&token);
        let recorder = start_recorder(bins, dir.path(), RECORDER, "recorder", 0).await;
        let failover = start_recorder(bins, dir.path(), FAILOVER, "failover", 0).await;
        let recorder_port = recorder.port();
        let mut site = Site {
            bins,
            dir,
            database_url,
            manager,
            client,
            recorder,
            recorder_port,
            failover,
            recorder_id: 0,
            seen: HashSet::new(),
        };
        let added = site.register(RECORDER, &site.recorder.address.clone(), "recorder").await;
        site.recorder_id = added["id"].as_i64().expect("the new server has an id");
        site.register(FAILOVER, &site.failover.address.clone(), "failover").await;
        if stand_ins > 0 {
            assert!(!responders.is_empty(), "stand-in recorders need health responders");
            use futures::StreamExt;
            let names: Vec<(String, String)> = (0..stand_ins)
                .map(|i| (format!("stand-in-{i:04}"), responders[i % responders.len()].clone()))
                .collect();
            let site_ref = &site;
            futures::stream::iter(names)
                .map(|(name, address)| async move {
                    site_ref.register(&name, &address, "recorder").await;
                })
                .buffer_unordered(8)
                .collect::<Vec<()>>()
                .await;
        }
        site
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.manager.address)
    }

    /// `POST /api/v1/servers`, monitored for failover, manual failback only, no material copy.
    async fn register(&self, name: &str, address: &str, kind: &str) -> Value {
        let body = json!({
            "name": name, "address": address, "kind": kind,
            "failover_enabled": true, "auto_failback": false, "copy_after_failback": false
        });
        let (status, answer) =
            send_json(&self.client, reqwest::Method::POST, &self.url("/api/v1/servers"), &body)
                .await;
        assert_eq!(status, 201, "registering {name} was refused: {answer}");
        answer
    }

    pub async fn servers(&self) -> Vec<Value> {
        get_json(&self.client, &self.url("/api/v1/servers"))
            .await
            .and_then(|servers| servers.as_array().cloned())
            .unwrap_or_default()
    }

    /// Every recorder `ok`, every failover server `standby`, the recorder's settings in the
    /// manager's cache, and a health round that saw rec-1 answer after this call: ready for the
    /// next kill. (Right after a failback, rec-1 is `ok` but its last_seen_at may still date from
    /// before its previous death; a kill then would be detected in less than the window.)
    /// After `limit`, the servers that are not ready, described.
    pub async fn wait_ready(&self, limit: Duration) -> Result<(), String> {
        let since = Utc::now();
        let deadline = Instant::now() + limit;
        let settings = self.url(&format!("/api/v1/servers/{}/settings", self.recorder_id));
        loop {
            let servers = self.servers().await;
            let not_ready: Vec<String> = servers
                .iter()
                .filter(|server| {
                    !matches!(
                        (server["kind"].as_str(), server["state"].as_str()),
                        (Some("recorder"), Some("ok")) | (Some("failover"), Some("standby"))
                    )
                })
                .map(|server| {
                    format!(
                        "{} is {} (acting_for {}, last seen {})",
                        server["name"],
                        server["state"],
                        server["acting_for"],
                        server["last_seen_at"]
                    )
                })
                .collect();
            let rec = servers.iter().find(|server| server["id"] == self.recorder_id);
            let seen = rec
                .and_then(|rec| time_field(rec, "last_seen_at"))
                .is_some_and(|seen| seen > since);
            if !servers.is_empty()
                && not_ready.is_empty()
                && seen
                && get_json(&self.client, &settings).await.is_some()
            {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let open = get_json(&self.client, &self.url("/api/v1/failovers?state=active"))
                    .await
                    .and_then(|entries| entries.as_array().map(Vec::len))
                    .unwrap_or_default();
                return Err(format!(
                    "after {limit:?}: {}; {open} open failover(s) in the log",
                    if not_ready.is_empty() {
                        "every server ok/standby but no fresh health round for rec-1".to_owned()
                    } else {
                        not_ready.join(", ")
                    }
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGKILLs rec-1 and waits (bounded) for its new failover log entry to be `active`.
    pub async fn kill_and_wait_active(&mut self, poll: Duration) -> Kill {
        let killed_at = Utc::now();
        let start = Instant::now();
        self.recorder.kill().await;
        let seen = self.seen.clone();
        let url = self.url("/api/v1/failovers?state=active");
        let client = self.client.clone();
        let entry =
            wait_for("rec-1's failover to be active", Duration::from_secs(60), poll, || {
                let (client, url, seen) = (&client, &url, &seen);
                async move {
                    let entries = get_json(client, url).await?;
                    entries.as_array()?.iter().find_map(|entry| {
                        let id = entry["id"].as_i64()?;
                        (entry["recorder"]["name"] == RECORDER
                            && entry["status"] == "active"
                            && !seen.contains(&id))
                        .then(|| entry.clone())
                    })
                }
            })
            .await;
        let observed_ms = start.elapsed().as_secs_f64() * 1000.0;
        let kill = Kill { killed_at, entry, observed_ms };
        self.seen.insert(kill.entry_id());
        kill
    }

    /// Starts rec-1 again on its old port with its old archive, as a repaired server.
    pub async fn restart_recorder(&mut self) {
        let dir = self.dir.path().to_owned();
        self.recorder =
            start_recorder(self.bins, &dir, RECORDER, "recorder", self.recorder_port).await;
    }

    /// `POST /api/v1/failovers/{id}/failback`, retried (bounded) while it is refused because
    /// the repaired recorder is not reachable yet.
    pub async fn failback(&self, entry_id: i64) -> Failback {
        let url = self.url(&format!("/api/v1/failovers/{entry_id}/failback"));
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut refusals = 0;
        loop {
            let start = Instant::now();
            let (status, answer) =
                send_json(&self.client, reqwest::Method::POST, &url, &json!({})).await;
            let round_trip_ms = start.elapsed().as_secs_f64() * 1000.0;
            if status == 200 {
                let duration_ms = answer["duration_ms"]
                    .as_f64()
                    .unwrap_or_else(|| panic!("a failback answer without duration_ms: {answer}"));
                return Failback { duration_ms, round_trip_ms, refusals };
            }
            refusals += 1;
            if Instant::now() >= deadline {
                panic!("failback of entry {entry_id} still refused after 60 s: {status} {answer}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The agent's own health says it records again (bounded wait).
    pub async fn wait_recorder_recording(&self) {
        let url = format!("{}/api/v1/health", self.recorder.address);
        let plain = reqwest::Client::new();
        wait_for(
            "rec-1 recording again",
            Duration::from_secs(30),
            Duration::from_millis(20),
            || {
                let (plain, url) = (&plain, &url);
                async move {
                    let health = get_json(plain, url).await?;
                    (health["recording"] == true).then_some(())
                }
            },
        )
        .await;
    }
}
