//! A small real site: a manager process, recorder agents and failover servers on loopback,
//! driven through the REST API with an admin token.

use super::eventually;
use super::processes::{
    Process, client_with_token, create_token, manager_binary, start_manager, start_recorder_with,
};
use serde_json::{Value, json};
use std::collections::HashMap;

pub struct Site {
    pub dir: tempfile::TempDir,
    pub database_url: String,
    pub manager: Process,
    pub manager_args: Vec<String>,
    pub client: reqwest::Client,
    pub agents: HashMap<String, Process>,
    pub ports: HashMap<String, u16>,
    /// Extra flags for every agent started from now on.
    pub agent_args: Vec<String>,
}

/// Fast monitor timings for tests: checks every 200 ms, failover after 600 ms of silence
/// (unless the test sets its own window).
const FAST: [&str; 4] = ["--monitor-interval-ms", "200", "--check-timeout-ms", "300"];
const FAST_WINDOW: [&str; 2] = ["--failover-window-ms", "600"];

pub async fn licence(database_url: &str, enabled: bool, servers: u32) {
    let output = tokio::process::Command::new(manager_binary())
        .args([
            "license",
            "set",
            "--failover-enabled",
            &enabled.to_string(),
            "--failover-servers",
            &servers.to_string(),
        ])
        .args(["--database-url", database_url])
        .env("STANDBY_LOG", "warn")
        .output()
        .await
        .expect("standby license set");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

impl Site {
    /// A manager with the given licence (None: no licence at all) and extra flags.
    pub async fn start(licensed_servers: Option<u32>, extra: &[&str]) -> Site {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let database_url = format!("sqlite://{}", dir.path().join("standby.db").display());
        let token = create_token(&database_url, "site-admin", "admin").await;
        if let Some(servers) = licensed_servers {
            licence(&database_url, true, servers).await;
        }
        let window: &[&str] =
            if extra.contains(&"--failover-window-ms") { &[] } else { &FAST_WINDOW };
        let manager_args: Vec<String> =
            FAST.iter().chain(window).chain(extra).map(|arg| arg.to_string()).collect();
        let args: Vec<&str> = manager_args.iter().map(String::as_str).collect();
        let manager = start_manager(&database_url, &args).await;
        Site {
            dir,
            database_url,
            manager,
            manager_args,
            client: client_with_token(&token),
            agents: HashMap::new(),
            ports: HashMap::new(),
            agent_args: Vec::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.manager.address)
    }

    /// Starts an agent (at its old port if it ran before) and registers it the first time.
    pub async fn agent(&mut self, name: &str, kind: &str) {
        self.agent_with(name, kind, json!({})).await
    }

    /// As [`Site::agent`], registering with extra settings (e.g. `auto_failback`).
    pub async fn agent_with(&mut self, name: &str, kind: &str, settings: Value) {
        let port = self.ports.get(name).copied().unwrap_or(0);
        let process =
            start_recorder_with(self.dir.path(), name, kind, port, &self.agent_args).await;
        if !self.ports.contains_key(name) {
            let added = self
                .client
                .post(self.url("/api/v1/servers"))
                .json(&{
                    let mut body =
                        json!({ "name": name, "address": process.address, "kind": kind });
                    if let (Some(body), Some(extra)) = (body.as_object_mut(), settings.as_object())
                    {
                        body.extend(extra.clone());
                    }
                    body
                })
                .send()
                .await
                .expect("register the server");
            assert_eq!(added.status(), 201, "{:?}", added.text().await);
        }
        self.ports.insert(name.to_owned(), process.port());
        self.agents.insert(name.to_owned(), process);
    }

    /// SIGKILLs an agent and starts it again at a new port, as a server moved to another
    /// address; the manager is not told. Returns the new address.
    pub async fn agent_moved(&mut self, name: &str, kind: &str) -> String {
        self.kill(name).await;
        let process = start_recorder_with(self.dir.path(), name, kind, 0, &self.agent_args).await;
        let address = process.address.clone();
        self.ports.insert(name.to_owned(), process.port());
        self.agents.insert(name.to_owned(), process);
        address
    }

    pub async fn kill(&mut self, name: &str) {
        if let Some(process) = self.agents.get_mut(name) {
            process.kill().await;
        }
    }

    pub async fn get(&self, path: &str) -> Value {
        let response = self.client.get(self.url(path)).send().await.expect("GET");
        response.json().await.expect("JSON")
    }

    pub async fn server(&self, name: &str) -> Value {
        let servers = self.get("/api/v1/servers").await;
        servers
            .as_array()
            .and_then(|all| all.iter().find(|server| server["name"] == name).cloned())
            .unwrap_or(Value::Null)
    }

    pub async fn wait_state(&self, name: &str, state: &str) {
        eventually(&format!("{name} {state}"), || async {
            (self.server(name).await["state"] == state).then_some(())
        })
        .await;
    }

    /// Waits until the manager has the recorder's settings in its cache.
    pub async fn wait_settings_cached(&self, name: &str) {
        let id = self.server(name).await["id"].clone();
        eventually(&format!("settings of {name} cached"), || async {
            let response = self
                .client
                .get(self.url(&format!("/api/v1/servers/{id}/settings")))
                .send()
                .await
                .ok()?;
            response.status().is_success().then_some(())
        })
        .await;
    }

    pub async fn failovers(&self, query: &str) -> Vec<Value> {
        self.get(&format!("/api/v1/failovers{query}")).await.as_array().cloned().unwrap_or_default()
    }

    /// Kills the manager (SIGKILL) and starts it again on the same database.
    pub async fn restart_manager(&mut self, env: &[(&str, &str)]) {
        let _ = self.manager.kill().await;
        let args: Vec<&str> = self.manager_args.iter().map(String::as_str).collect();
        self.manager =
            super::processes::start_manager_with_env(&self.database_url, &args, env).await;
    }

    /// GET on an agent's own API.
    pub async fn agent_get(&self, name: &str, path: &str) -> Value {
        let address = &self.agents[name].address;
        reqwest::get(format!("{address}{path}"))
            .await
            .expect("agent GET")
            .json()
            .await
            .expect("agent JSON")
    }
}

impl Site {
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self.client.post(self.url(path)).json(&body).send().await.expect("POST");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self.client.patch(self.url(path)).json(&body).send().await.expect("PATCH");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Registers rec-1 and fo-1, waits for them and the settings cache, kills rec-1 and waits
    /// for its failover to be active. Returns the entry.
    pub async fn failed_over(&mut self, recorder: Value) -> Value {
        self.agent_with("rec-1", "recorder", recorder).await;
        self.agent("fo-1", "failover").await;
        self.wait_state("rec-1", "ok").await;
        self.wait_state("fo-1", "standby").await;
        self.wait_settings_cached("rec-1").await;
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
