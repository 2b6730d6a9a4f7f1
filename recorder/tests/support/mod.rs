//! Starting real `standby-recorder` processes on loopback ports for the integration tests, and
//! talking to them. Waits poll with generous deadlines: the machine may be loaded.

#![allow(dead_code)]

use recorder::wire::{FrameDecoder, Record};
use serde_json::Value;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub const DEADLINE: Duration = Duration::from_secs(90);
/// Keeps the agents' synthetic load small: tests run several at once on two cores.
pub const LIGHT: &[&str] = &["--video-bitrate-kbps", "64", "--video-fps", "5"];

pub struct Agent {
    child: Option<Child>,
    pub base: String,
    pub name: String,
    pub kind: String,
    pub data_dir: PathBuf,
    pub log: PathBuf,
    extra: Vec<String>,
    /// `127.0.0.1:0` at first; the port it got, for a restart at the same address.
    listen: String,
}

impl Agent {
    /// Starts an agent and waits for its "listening" line.
    pub fn start(name: &str, kind: &str, data_dir: &Path, extra: &[&str]) -> Agent {
        let mut agent = Agent {
            child: None,
            base: String::new(),
            name: name.into(),
            kind: kind.into(),
            data_dir: data_dir.to_owned(),
            log: data_dir.with_extension("log"),
            extra: extra.iter().map(|s| s.to_string()).collect(),
            listen: "127.0.0.1:0".into(),
        };
        agent.launch();
        agent
    }

    fn launch(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open agent log");
        let mut child = Command::new(env!("CARGO_BIN_EXE_standby-recorder"))
            .args(["--listen", &self.listen, "--name", &self.name, "--kind", &self.kind])
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(&self.extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn standby-recorder");
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = std::io::BufReader::new(stdout).read_line(&mut line);
            let _ = sender.send(line);
        });
        let line = receiver.recv_timeout(DEADLINE).expect("agent printed its listening line");
        let url = line
            .trim()
            .strip_prefix("standby-recorder listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}; log: {}", self.log_text()));
        self.base = format!("{url}/api/v1");
        self.child = Some(child);
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).expect("running")
    }

    /// SIGKILL: no chance to close anything.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, and the exit status once it has stopped.
    pub fn terminate(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
        child.wait().expect("wait for agent")
    }

    /// SIGKILL and start again, at a new port.
    pub fn restart(&mut self) {
        self.kill();
        self.listen = "127.0.0.1:0".into();
        self.launch();
    }

    /// SIGKILL and start again at the same address, as a repaired server comes back.
    pub fn restart_same_port(&mut self) {
        self.kill();
        self.listen = self.address().trim_start_matches("http://").to_owned();
        self.launch();
    }

    /// `http://127.0.0.1:PORT`, what the manager knows the agent by.
    pub fn address(&self) -> String {
        self.base.trim_end_matches("/api/v1").to_owned()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::new()
}

pub async fn get(url: &str) -> (u16, Value) {
    let response = client().get(url).send().await.expect("GET");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub async fn send_json(method: reqwest::Method, url: &str, body: &Value) -> (u16, Value) {
    let response = client().request(method, url).json(body).send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub async fn delete(url: &str) -> (u16, Value) {
    let response = client().delete(url).send().await.expect("DELETE");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub fn time(micros: i64) -> String {
    recorder::time::format_micros(micros)
}

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

pub async fn digest(
    agent: &Agent,
    channel: &str,
    from: i64,
    to: i64,
    origin: Option<&str>,
) -> Value {
    let (status, body) =
        get(&agent.url(&format!("/channels/{channel}/digest?{}", query(from, to, origin)))).await;
    assert_eq!(status, 200, "digest: {body}");
    body
}

pub async fn count(agent: &Agent, channel: &str, from: i64, to: i64, origin: Option<&str>) -> u64 {
    digest(agent, channel, from, to, origin).await["count"].as_u64().expect("count")
}

pub async fn playback_bytes(
    agent: &Agent,
    channel: &str,
    from: i64,
    to: i64,
    origin: Option<&str>,
) -> Vec<u8> {
    let url = agent.url(&format!("/channels/{channel}/playback?{}", query(from, to, origin)));
    let response = client().get(url).send().await.expect("playback");
    assert_eq!(response.status().as_u16(), 200);
    response.bytes().await.expect("playback body").to_vec()
}

pub fn decode(bytes: &[u8]) -> Vec<Record> {
    let mut decoder = FrameDecoder::default();
    decoder.push(bytes);
    let mut records = Vec::new();
    while let Some(frame) = decoder.next_frame().expect("valid stream") {
        records.push(frame.to_record());
    }
    decoder.finish().expect("stream ends at a record boundary");
    records
}

pub async fn playback(
    agent: &Agent,
    channel: &str,
    from: i64,
    to: i64,
    origin: Option<&str>,
) -> Vec<Record> {
    decode(&playback_bytes(agent, channel, from, to, origin).await)
}

pub async fn ingest(agent: &Agent, channel: &str, body: Vec<u8>) -> (u16, Value) {
    let response = client()
        .post(agent.url(&format!("/channels/{channel}/records")))
        .header("content-type", recorder::wire::MEDIA_TYPE)
        .body(body)
        .send()
        .await
        .expect("ingest");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// `count` records of `size` bytes from `origin`, `step` µs apart from `start`.
pub fn records(origin: &str, start: i64, count: usize, step: i64, size: usize) -> Vec<Record> {
    (0..count)
        .map(|i| {
            let timestamp = start + i as i64 * step;
            let payload = (0..size).map(|j| (j as i64 * 7 + timestamp) as u8).collect();
            Record { timestamp, sequence: i as u64 + 1, origin: origin.into(), payload }
        })
        .collect()
}

pub fn body(records: &[Record]) -> Vec<u8> {
    records.iter().flat_map(|r| r.encode()).collect()
}

/// Polls `check` until it holds or the deadline passes.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < DEADLINE, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Microseconds of 2001-01-01T00:00:00Z: a time no agent records at by itself.
pub const Y2001: i64 = 978_307_200_000_000;
pub const HOUR: i64 = 3_600_000_000;
