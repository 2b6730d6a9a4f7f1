//! A small real site: a manager process on a fresh SQLite file, recorder agents and failover
//! servers on loopback registered with it, driven through the REST API with an admin token.

use crate::agent::Agent;
use crate::http::client_with_token;
use crate::process::{Place, Process, Stderr};
use crate::{eventually, manager};
use serde_json::{Value, json};
use std::collections::HashMap;

/// The health monitor's timings, passed to `standby serve` as flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Monitor {
    pub interval_ms: u64,
    pub check_timeout_ms: u64,
    pub window_ms: u64,
}

impl Monitor {
    /// The product's defaults (`standby serve` without flags).
    pub const DEFAULT: Monitor =
        Monitor { interval_ms: 1000, check_timeout_ms: 500, window_ms: 1500 };
    /// Fast timings for tests: checks every 200 ms, failover after 600 ms of silence.
    pub const FAST: Monitor = Monitor { interval_ms: 200, check_timeout_ms: 300, window_ms: 600 };

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

    /// These timings as flags, less those `extra` sets itself, followed by `extra`.
    fn args_with(&self, extra: &[&str]) -> Vec<String> {
        let own = self.args();
        let mut args = Vec::new();
        for pair in own.chunks(2) {
            if !extra.contains(&pair[0].as_str()) {
                args.extend_from_slice(pair);
            }
        }
        args.extend(extra.iter().map(|arg| arg.to_string()));
        args
    }
}

/// Its processes are dropped (killed) before its directory: fields drop in this order.
pub struct Site {
    pub manager: Process,
    pub manager_args: Vec<String>,
    /// Sends the admin token.
    pub client: reqwest::Client,
    /// By name; a killed agent stays here, so it comes back at its old address.
    pub agents: HashMap<String, Agent>,
    /// Extra flags for every agent started from now on.
    pub agent_args: Vec<String>,
    /// Environment for every agent started from now on.
    pub agent_env: Vec<(String, String)>,
    /// Where agents started from now on log; `None`: `<data dir>.log` in the site's directory.
    pub agent_stderr: Option<Stderr>,
    /// Where an agent runs on the network, by name (by default on loopback).
    pub places: HashMap<String, Place>,
    pub database_url: String,
    /// The database and the agents' archives and logs; removed last.
    pub dir: tempfile::TempDir,
}

impl Site {
    /// A manager with the given licence (`None`: no licence at all), the fast monitor timings
    /// and extra flags (which win over the timings).
    pub async fn start(licensed_servers: Option<u32>, extra: &[&str]) -> Site {
        Site::start_monitored(licensed_servers, Monitor::FAST, extra).await
    }

    /// As [`Site::start`], with the monitor's timings given.
    pub async fn start_monitored(
        licensed_servers: Option<u32>,
        monitor: Monitor,
        extra: &[&str],
    ) -> Site {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let database_url = format!("sqlite://{}", dir.path().join("standby.db").display());
        Site::start_on(dir, database_url, licensed_servers, monitor, extra, &[]).await
    }

    /// As [`Site::start`] on the database at `database_url` (a PostgreSQL one, for several
    /// managers: see [`Site::another_manager`]).
    pub async fn start_on_database(
        database_url: &str,
        licensed_servers: Option<u32>,
        extra: &[&str],
    ) -> Site {
        Site::start_on_database_with_env(database_url, licensed_servers, extra, &[]).await
    }

    /// As [`Site::start_on_database`], with the manager's environment extended by `env`.
    pub async fn start_on_database_with_env(
        database_url: &str,
        licensed_servers: Option<u32>,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Site {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = database_url.to_owned();
        Site::start_on(dir, url, licensed_servers, Monitor::FAST, extra, env).await
    }

    /// The managers as the manager at `at` lists them (`GET /api/v1/managers`); `None` while it
    /// does not answer.
    pub async fn managers(&self, at: &Process) -> Option<Vec<Value>> {
        let response = self.client.get(at.url("/api/v1/managers")).send().await.ok()?;
        response.json::<Vec<Value>>().await.ok()
    }

    /// Another `standby serve` with the same flags on the same database.
    pub async fn another_manager(&self) -> Process {
        let args: Vec<&str> = self.manager_args.iter().map(String::as_str).collect();
        manager::start(&self.database_url, &args, &[]).await
    }

    async fn start_on(
        dir: tempfile::TempDir,
        database_url: String,
        licensed_servers: Option<u32>,
        monitor: Monitor,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Site {
        let token = manager::create_token(&database_url, "site-admin", "admin").await;
        if let Some(servers) = licensed_servers {
            manager::licence(&database_url, true, servers).await;
        }
        let manager_args = monitor.args_with(extra);
        let args: Vec<&str> = manager_args.iter().map(String::as_str).collect();
        let manager = manager::start(&database_url, &args, env).await;
        Site {
            dir,
            database_url,
            manager,
            manager_args,
            client: client_with_token(&token),
            agents: HashMap::new(),
            agent_args: Vec::new(),
            agent_env: Vec::new(),
            agent_stderr: None,
            places: HashMap::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        self.manager.url(path)
    }

    /// Starts an agent (at its old port if it ran before) and registers it the first time.
    pub async fn agent(&mut self, name: &str, kind: &str) {
        self.agent_with(name, kind, json!({})).await
    }

    /// As [`Site::agent`], registering with extra settings (e.g. `auto_failback`).
    pub async fn agent_with(&mut self, name: &str, kind: &str, settings: Value) {
        let known = self.agents.get(name).map(|agent| agent.port());
        if let Some(agent) = self.agents.get_mut(name) {
            // It is started anew below, with the site's current flags.
            agent.kill().await;
        }
        let agent = self.start_agent(name, kind, known.unwrap_or(0)).await;
        if known.is_none() {
            let mut settings = settings;
            if let Some(settings) = settings.as_object_mut() {
                settings.entry("secret").or_insert_with(|| agent.secret.clone().into());
            }
            self.register(name, agent.address(), kind, settings).await;
        }
        self.agents.insert(name.to_owned(), agent);
    }

    async fn start_agent(&self, name: &str, kind: &str, port: u16) -> Agent {
        let mut command = Agent::command(name, kind, &self.dir.path().join(name))
            .args(&self.agent_args)
            .port(port)
            .place(self.places.get(name).cloned().unwrap_or_default());
        for (key, value) in &self.agent_env {
            command = command.env(key, value);
        }
        if let Some(stderr) = &self.agent_stderr {
            command = command.stderr(stderr.clone());
        }
        command.start().await
    }

    /// `POST /api/v1/servers` `{name, address, kind}` with extra settings; the new server.
    pub async fn register(&self, name: &str, address: &str, kind: &str, settings: Value) -> Value {
        let mut body = json!({ "name": name, "address": address, "kind": kind });
        if let (Some(body), Some(extra)) = (body.as_object_mut(), settings.as_object()) {
            body.extend(extra.clone());
        }
        let (status, added) = self.post("/api/v1/servers", body).await;
        assert_eq!(status, 201, "registering {name} was refused: {added}");
        added
    }

    /// SIGKILLs an agent and starts it again at a new port, as a server moved to another
    /// address; the manager is not told. Returns the new address.
    pub async fn agent_moved(&mut self, name: &str, kind: &str) -> String {
        self.kill(name).await;
        let agent = self.start_agent(name, kind, 0).await;
        let address = agent.address().to_owned();
        self.agents.insert(name.to_owned(), agent);
        address
    }

    /// SIGKILLs an agent.
    pub async fn kill(&mut self, name: &str) {
        if let Some(agent) = self.agents.get_mut(name) {
            agent.kill().await;
        }
    }

    /// GET on the manager's API, as JSON.
    pub async fn get(&self, path: &str) -> Value {
        let response = self.client.get(self.url(path)).send().await.expect("GET the manager");
        response.json().await.expect("the manager answers JSON")
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        crate::http::send(&self.client, reqwest::Method::POST, &self.url(path), Some(&body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        crate::http::send(&self.client, reqwest::Method::PATCH, &self.url(path), Some(&body)).await
    }

    /// Every registered server.
    pub async fn servers(&self) -> Vec<Value> {
        self.get("/api/v1/servers").await.as_array().cloned().unwrap_or_default()
    }

    /// The registered server of that name, `Null` when there is none.
    pub async fn server(&self, name: &str) -> Value {
        let servers = self.servers().await;
        servers.into_iter().find(|server| server["name"] == name).unwrap_or(Value::Null)
    }

    pub async fn wait_state(&self, name: &str, state: &str) {
        eventually(&format!("{name} {state}"), || async {
            self.server(name).await["state"] == state
        })
        .await;
    }

    /// Waits until the manager has the recorder's settings in its cache.
    pub async fn wait_settings_cached(&self, name: &str) {
        let id = self.server(name).await["id"].clone();
        let url = self.url(&format!("/api/v1/servers/{id}/settings"));
        eventually(&format!("settings of {name} cached"), || async {
            crate::http::get_json(&self.client, &url).await.is_some()
        })
        .await;
    }

    /// The failover log, with a query (`?state=active`).
    pub async fn failovers(&self, query: &str) -> Vec<Value> {
        self.get(&format!("/api/v1/failovers{query}")).await.as_array().cloned().unwrap_or_default()
    }

    /// Kills the manager (SIGKILL) and starts it again on the same database (at a new port),
    /// with extra environment for this start.
    pub async fn restart_manager(&mut self, env: &[(&str, &str)]) {
        self.manager.kill().await;
        let args: Vec<&str> = self.manager_args.iter().map(String::as_str).collect();
        self.manager = manager::start(&self.database_url, &args, env).await;
    }

    /// GET on an agent's own API (`path` from the root: `/api/v1/health`).
    pub async fn agent_get(&self, name: &str, path: &str) -> Value {
        let agent = self.agents.get(name).unwrap_or_else(|| panic!("no agent {name} in this site"));
        let url = format!("{}{path}", agent.address());
        let response = agent
            .client()
            .get(&url)
            .send()
            .await
            .unwrap_or_else(|error| panic!("GET {url}: {error}"));
        response.json().await.unwrap_or_else(|error| panic!("GET {url} answered no JSON: {error}"))
    }

    /// Registers rec-1 (with `recorder` settings) and fo-1, and waits for them and the
    /// settings cache: rec-1 can be failed over.
    pub async fn covered(&mut self, recorder: Value) {
        self.agent_with("rec-1", "recorder", recorder).await;
        self.agent("fo-1", "failover").await;
        self.wait_state("rec-1", "ok").await;
        self.wait_state("fo-1", "standby").await;
        self.wait_settings_cached("rec-1").await;
    }

    /// [`Site::covered`], then kills rec-1 and waits for its failover to be active. Returns the
    /// entry.
    pub async fn failed_over(&mut self, recorder: Value) -> Value {
        self.covered(recorder).await;
        self.kill("rec-1").await;
        eventually("rec-1 failed over", || async {
            self.failovers("?state=active")
                .await
                .into_iter()
                .find(|entry| entry["status"] == "active")
        })
        .await
    }
}
