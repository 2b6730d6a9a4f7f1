//! The recorder agent (`standby-recorder`) as a process, and the parts of its API the tests
//! read: digests, counts, playback bytes. (Decoding playback and encoding records for ingest
//! need the recorder's framing code, so they stay in the recorder's tests.)

use crate::binaries::Binary;
use crate::http::{answer, client_with_token};
use crate::process::{Launch, Place, Process, Stderr};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};

/// Keeps an agent's synthetic load small: tests run several at once on two cores.
pub const LIGHT: &[&str] = &["--video-bitrate-kbps", "64", "--video-fps", "5"];
/// Microseconds of 2001-01-01T00:00:00Z: a time no agent records at by itself.
pub const Y2001: i64 = 978_307_200_000_000;
pub const HOUR: i64 = 3_600_000_000;

/// A running agent. It derefs to its [`Process`] (kill, restart, pid, log).
pub struct Agent {
    process: Process,
    pub name: String,
    pub kind: String,
    pub data_dir: PathBuf,
    /// The secret it made on its first start (`DATA_DIR/secret`), which every request but
    /// health carries.
    pub secret: String,
    client: reqwest::Client,
}

/// How to start an agent: [`Agent::command`], then `args`, `port`, `env`, `stderr`, `start`.
pub struct AgentCommand {
    name: String,
    kind: String,
    data_dir: PathBuf,
    args: Vec<String>,
    port: u16,
    env: Vec<(String, String)>,
    stderr: Option<Stderr>,
    place: Place,
}

impl AgentCommand {
    /// Where it listens and runs (by default on loopback, in the test's own namespace).
    pub fn place(mut self, place: Place) -> Self {
        self.place = place;
        self
    }

    /// Extra flags (e.g. [`LIGHT`], `--copy-max-rate`).
    pub fn args<S: AsRef<str>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        self.args.extend(args.into_iter().map(|arg| arg.as_ref().to_owned()));
        self
    }

    /// The port to listen on; 0 (the default) takes any free one.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Where its log goes; by default to `<data dir>.log`, kept across restarts.
    pub fn stderr(mut self, stderr: Stderr) -> Self {
        self.stderr = Some(stderr);
        self
    }

    /// Starts it; its secret is the one it made in its data directory.
    pub async fn start(self) -> Agent {
        self.launch(None).await
    }

    /// Starts it with `--secret-file` (or its environment variable) among its flags, whose
    /// contents are `secret`.
    pub async fn start_with_secret(self, secret: &str) -> Agent {
        self.launch(Some(secret.to_owned())).await
    }

    async fn launch(self, secret: Option<String>) -> Agent {
        let stderr =
            self.stderr.unwrap_or_else(|| Stderr::File(self.data_dir.with_extension("log")));
        let mut after = vec![
            "--data-dir".into(),
            self.data_dir.clone().into_os_string(),
            "--name".into(),
            self.name.clone().into(),
            "--kind".into(),
            self.kind.clone().into(),
        ];
        after.extend(self.args.iter().map(Into::into));
        let launch = Launch {
            what: format!("recorder agent {}", self.name),
            program: Binary::Agent.path(),
            before: Vec::new(),
            after,
            env: self.env.iter().map(|(key, value)| (key.into(), value.into())).collect(),
            stderr,
            marker: "standby-recorder listening on ",
            place: self.place,
        };
        let process = Process::start(launch, self.port).await;
        let secret = secret.unwrap_or_else(|| secret_of(&self.data_dir));
        let client = client_with_token(&secret);
        Agent { process, name: self.name, kind: self.kind, data_dir: self.data_dir, secret, client }
    }
}

impl Agent {
    /// An agent named `name` of `kind` (recorder or failover) with its archive in `data_dir`.
    pub fn command(name: &str, kind: &str, data_dir: &Path) -> AgentCommand {
        AgentCommand {
            name: name.to_owned(),
            kind: kind.to_owned(),
            data_dir: data_dir.to_owned(),
            args: Vec::new(),
            port: 0,
            env: Vec::new(),
            stderr: None,
            place: Place::default(),
        }
    }

    /// Starts an agent on any free port with extra flags, its log in `<data dir>.log`.
    pub async fn start(name: &str, kind: &str, data_dir: &Path, extra: &[&str]) -> Agent {
        Agent::command(name, kind, data_dir).args(extra).start().await
    }

    /// An URL of its API: `path` below `/api/v1` (e.g. `/health`).
    pub fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.process.address())
    }

    /// A client that sends the agent's secret with every request.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// A request below `/api/v1` with the secret and an optional JSON body: status and JSON.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        crate::http::send(&self.client, method, &self.url(path), body).await
    }

    /// GET below `/api/v1` with the secret.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }

    /// A JSON body below `/api/v1` with the secret.
    pub async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &Value,
    ) -> (u16, Value) {
        self.call(method, path, Some(body)).await
    }

    /// DELETE below `/api/v1` with the secret.
    pub async fn delete(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::DELETE, path, None).await
    }

    /// POST of a body that is not JSON (e.g. framed records) with the secret.
    pub async fn post_bytes(&self, path: &str, content_type: &str, body: Vec<u8>) -> (u16, Value) {
        let url = self.url(path);
        let response = self
            .client
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body)
            .send()
            .await
            .unwrap_or_else(|error| panic!("POST {url}: {error}"));
        answer(response).await
    }
}

/// The copy task's `source` for pulling `[from, to)` of `source`'s own records, with a grant
/// signed with its secret as the manager would make it (every channel, valid for an hour).
pub fn granted_source(source: &Agent, recorder: &str, from: i64, to: i64) -> Value {
    let grant = agent_api::Grant {
        source: source.name.clone(),
        recorder: recorder.to_owned(),
        channels: Vec::new(),
        from,
        to,
        expires: Utc::now().timestamp() + 3600,
    };
    serde_json::json!({
        "name": source.name,
        "address": source.address(),
        "grant": grant.sign(&source.secret),
    })
}

/// The secret an agent made in its data directory (it is written before the agent listens).
pub fn secret_of(data_dir: &Path) -> String {
    let path = data_dir.join("secret");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("the agent's secret {}: {error}", path.display()))
        .trim()
        .to_owned()
}

impl Deref for Agent {
    type Target = Process;
    fn deref(&self) -> &Process {
        &self.process
    }
}

impl DerefMut for Agent {
    fn deref_mut(&mut self) -> &mut Process {
        &mut self.process
    }
}

/// A record time as the agent writes it (RFC 3339 in UTC with six fractional digits).
pub fn time(micros: i64) -> String {
    match DateTime::<Utc>::from_timestamp_micros(micros) {
        Some(time) => agent_api::time::format_micros(&time),
        None => micros.to_string(),
    }
}

/// `from=…&to=…[&origin=…]` for the reads of a channel's records.
pub fn query(from: i64, to: i64, origin: Option<&str>) -> String {
    let mut query = format!("from={}&to={}", encode(&time(from)), encode(&time(to)));
    if let Some(origin) = origin {
        query.push_str(&format!("&origin={}", encode(origin)));
    }
    query
}

/// Percent-encodes the characters of RFC 3339 times and names that a query cannot carry raw.
pub fn encode(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '-' | '_' | '.' | '~' => c.to_string(),
            other => other.to_string().bytes().map(|b| format!("%{b:02X}")).collect(),
        })
        .collect()
}

/// The channel's digest of `[from, to)` (count, bytes, SHA-256), of one origin or all.
pub async fn digest(
    agent: &Agent,
    channel: &str,
    from: i64,
    to: i64,
    origin: Option<&str>,
) -> Value {
    let (status, body) =
        agent.get(&format!("/channels/{channel}/digest?{}", query(from, to, origin))).await;
    assert_eq!(status, 200, "digest of {channel} on {}: {body}", agent.name);
    body
}

/// How many records the channel holds in `[from, to)`.
pub async fn count(agent: &Agent, channel: &str, from: i64, to: i64, origin: Option<&str>) -> u64 {
    digest(agent, channel, from, to, origin).await["count"].as_u64().expect("a digest has a count")
}

/// The playback stream of `[from, to)`: framed records, as the agent sends them.
pub async fn playback_bytes(
    agent: &Agent,
    channel: &str,
    from: i64,
    to: i64,
    origin: Option<&str>,
) -> Vec<u8> {
    let url = agent.url(&format!("/channels/{channel}/playback?{}", query(from, to, origin)));
    let response =
        agent.client.get(&url).send().await.unwrap_or_else(|error| panic!("GET {url}: {error}"));
    assert_eq!(response.status().as_u16(), 200, "playback of {channel} on {}", agent.name);
    response.bytes().await.expect("the playback body").to_vec()
}
