//! What the benchmarks share: the real binaries started on loopback port 0, the command-line
//! set-up of a manager (token, licence), cheap health responders, statistics and tables.
//!
//! Benchmarks report figures; they never assert on time. Every wait is bounded.
#![allow(dead_code)]

pub mod site;

use serde_json::Value;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// `STANDBY_BENCH_QUICK=1`: a fast smoke run with fewer repetitions.
pub fn quick() -> bool {
    std::env::var("STANDBY_BENCH_QUICK").is_ok_and(|value| !value.is_empty() && value != "0")
}

/// A repetition count: `STANDBY_BENCH_<NAME>` when set, else the quick or the full default.
pub fn count(name: &str, full: usize, quick_count: usize) -> usize {
    std::env::var(format!("STANDBY_BENCH_{name}"))
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(if quick() { quick_count } else { full })
}

pub struct Binaries {
    pub standby: PathBuf,
    pub recorder: PathBuf,
}

/// The `standby` and `standby-recorder` binaries: in `STANDBY_BENCH_BIN_DIR` when set, else
/// beside this bench executable's target directory (`target/release`, then `target/debug`).
/// Exits with a clear message when they are missing.
pub fn binaries() -> Binaries {
    let mut candidates = Vec::new();
    if let Some(dir) = std::env::var_os("STANDBY_BENCH_BIN_DIR") {
        candidates.push(PathBuf::from(dir));
    } else if let Ok(exe) = std::env::current_exe() {
        // target/<profile>/deps/<bench>-<hash>
        if let Some(target) = exe.parent().and_then(Path::parent).and_then(Path::parent) {
            candidates.push(target.join("release"));
            candidates.push(target.join("debug"));
        }
    }
    for dir in &candidates {
        let standby = dir.join("standby");
        let recorder = dir.join("standby-recorder");
        if standby.is_file() && recorder.is_file() {
            println!("binaries: {} and {}", standby.display(), recorder.display());
            if dir.ends_with("debug") {
                println!("  (debug build: figures are slower than a release build's)");
            }
            return Binaries { standby, recorder };
        }
    }
    eprintln!(
        "The benchmark needs the real `standby` and `standby-recorder` binaries, looked for in: {}.\n\
         Build them first, in the same target directory as the bench, e.g.\n  \
         CARGO_TARGET_DIR=/work/target-bench cargo build --release -p server -p recorder\n\
         or point STANDBY_BENCH_BIN_DIR at the directory holding them.",
        candidates.iter().map(|dir| dir.display().to_string()).collect::<Vec<_>>().join(", ")
    );
    std::process::exit(2);
}

/// A child process that is SIGKILLed when dropped.
pub struct Process {
    pub child: Child,
    /// `http://127.0.0.1:PORT`
    pub address: String,
}

impl Process {
    /// SIGKILL, like a power cut, and reap it.
    pub async fn kill(&mut self) {
        if let Err(error) = self.child.kill().await {
            eprintln!("could not SIGKILL {}: {error}", self.address);
        }
    }

    pub fn port(&self) -> u16 {
        self.address
            .rsplit(':')
            .next()
            .and_then(|port| port.parse().ok())
            .expect("the process printed an address with a port")
    }
}

/// Starts a binary and waits (bounded) for the line that says where it listens.
async fn start(mut command: Command, marker: &str, what: &str) -> Process {
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::inherit()).kill_on_drop(true);
    let mut child = command.spawn().unwrap_or_else(|error| panic!("cannot start {what}: {error}"));
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut lines = BufReader::new(stdout).lines();
    let address = tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(rest) = line.trim().strip_prefix(marker) {
                return Some(rest.trim_end_matches('/').to_owned());
            }
        }
        None
    })
    .await
    .unwrap_or_else(|_| panic!("{what} did not say where it listens within 60 s"))
    .unwrap_or_else(|| panic!("{what} ended without saying where it listens"));
    // Keep draining stdout so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Process { child, address }
}

/// A recorder agent (`kind` recorder or failover) on 127.0.0.1:`port` (0: any free port).
pub async fn start_recorder(
    bins: &Binaries,
    dir: &Path,
    name: &str,
    kind: &str,
    port: u16,
) -> Process {
    let mut command = Command::new(&bins.recorder);
    command
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(dir.join(name))
        .arg("--name")
        .arg(name)
        .arg("--kind")
        .arg(kind)
        .env(
            "RUST_LOG",
            std::env::var("STANDBY_BENCH_AGENT_LOG").unwrap_or_else(|_| "warn".into()),
        );
    start(command, "standby-recorder listening on ", &format!("recorder agent {name}")).await
}

/// `standby serve` on 127.0.0.1:0 with the given extra flags.
pub async fn start_manager(bins: &Binaries, database_url: &str, extra: &[String]) -> Process {
    let mut command = Command::new(&bins.standby);
    command
        .arg("serve")
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--database-url")
        .arg(database_url)
        .args(extra)
        .env("STANDBY_LOG", "warn");
    start(command, "Standby is listening on ", "the manager (standby serve)").await
}

/// `standby token create NAME --role admin`: the secret is the last line printed.
pub async fn create_token(bins: &Binaries, database_url: &str, name: &str, role: &str) -> String {
    let output = Command::new(&bins.standby)
        .args(["token", "create", name, "--role", role, "--database-url", database_url])
        .env("STANDBY_LOG", "warn")
        .output()
        .await
        .expect("run `standby token create`");
    assert!(
        output.status.success(),
        "`standby token create` failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    stdout.lines().last().expect("`standby token create` printed the secret").trim().to_owned()
}

/// `standby license set --failover-enabled true --failover-servers N`.
pub async fn set_licence(bins: &Binaries, database_url: &str, servers: u32) {
    let output = Command::new(&bins.standby)
        .args(["license", "set", "--failover-enabled", "true"])
        .args(["--failover-servers", &servers.to_string(), "--database-url", database_url])
        .env("STANDBY_LOG", "warn")
        .output()
        .await
        .expect("run `standby license set`");
    assert!(
        output.status.success(),
        "`standby license set` failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A client that sends the bearer token with every request.
pub fn client_with_token(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    let value = format!("Bearer {token}").parse().expect("a token is a valid header value");
    headers.insert(reqwest::header::AUTHORIZATION, value);
    reqwest::Client::builder().default_headers(headers).build().expect("an HTTP client")
}

/// GET returning JSON, or `None` when the network or the answer is not what was hoped for.
pub async fn get_json(client: &reqwest::Client, url: &str) -> Option<Value> {
    let response = client.get(url).timeout(Duration::from_secs(30)).send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    response.json().await.ok()
}

/// A request with a JSON body; the status and the JSON answer (Null when none).
pub async fn send_json(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: &Value,
) -> (u16, Value) {
    let response = client
        .request(method.clone(), url)
        .json(body)
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .unwrap_or_else(|error| panic!("{method} {url} failed: {error}"));
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Polls `check` every `every` until it yields a value; panics with `what` after `limit`.
pub async fn wait_for<T, F, Fut>(what: &str, limit: Duration, every: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if Instant::now() >= deadline {
            panic!("gave up after {limit:?} waiting for {what}");
        }
        tokio::time::sleep(every).await;
    }
}

/// Cheap stand-ins for recorders: `ports` listeners in this process answering the agent's
/// `GET /api/v1/health` and `GET /api/v1/settings` (an empty bundle, version 1), so the
/// manager's health monitor has hundreds of live servers to check without hundreds of
/// recording processes. Returns their addresses.
pub async fn health_responders(ports: usize) -> Vec<String> {
    use axum::Json;
    use axum::routing::get;
    let app = axum::Router::new()
        .route(
            "/api/v1/health",
            get(|| async {
                Json(serde_json::json!({
                    "name": "bench-stand-in", "kind": "recorder", "acting_for": null,
                    "recording": true, "settings_version": 1
                }))
            }),
        )
        .route(
            "/api/v1/settings",
            get(|| async {
                Json(serde_json::json!({
                    "version": 1, "channels": [], "config_files": [], "privacy_masks": [],
                    "schedules": []
                }))
            }),
        );
    let mut addresses = Vec::new();
    for _ in 0..ports {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port for a health responder");
        let address = listener.local_addr().expect("a bound address");
        addresses.push(format!("http://{address}"));
        let app = app.clone();
        tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                eprintln!("health responder {address} stopped: {error}");
            }
        });
    }
    addresses
}

/// Summary of a sample, in whatever unit the values are.
#[derive(Debug, Clone, Copy)]
pub struct Stats {
    pub n: usize,
    pub min: f64,
    pub median: f64,
    pub p95: f64,
    pub max: f64,
    pub mean: f64,
}

impl Stats {
    pub fn of(values: &[f64]) -> Option<Stats> {
        if values.is_empty() {
            return None;
        }
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median =
            if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0 };
        // Nearest rank.
        let rank = ((0.95 * n as f64).ceil() as usize).clamp(1, n);
        Some(Stats {
            n,
            min: sorted[0],
            median,
            p95: sorted[rank - 1],
            max: sorted[n - 1],
            mean: sorted.iter().sum::<f64>() / n as f64,
        })
    }
}

/// `12.3` style, or `–` for nothing.
pub fn ms(value: Option<f64>) -> String {
    match value {
        Some(value) if value.abs() >= 100.0 => format!("{value:.0}"),
        Some(value) => format!("{value:.1}"),
        None => "–".to_owned(),
    }
}

/// Prints a plain-text table with aligned columns.
pub fn table(title: &str, headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, cell)| {
                let width = widths.get(i).copied().unwrap_or(0);
                if i == 0 { format!("{cell:<width$}") } else { format!("{cell:>width$}") }
            })
            .collect();
        format!("| {} |", padded.join(" | "))
    };
    println!();
    println!("{title}");
    println!("{}", line(headers.iter().map(|h| h.to_string()).collect()));
    println!(
        "|{}|",
        widths
            .iter()
            .enumerate()
            .map(|(i, w)| if i == 0 {
                format!(":{}", "-".repeat(w + 1))
            } else {
                format!("{}:", "-".repeat(w + 1))
            })
            .collect::<Vec<_>>()
            .join("|")
    );
    for row in rows {
        println!("{}", line(row.clone()));
    }
}

/// Milliseconds between two instants of the wall clock (both on this machine).
pub fn ms_between(from: chrono::DateTime<chrono::Utc>, to: chrono::DateTime<chrono::Utc>) -> f64 {
    (to - from).num_microseconds().unwrap_or(i64::MAX) as f64 / 1000.0
}

/// An RFC 3339 time from a JSON field.
pub fn time_field(value: &Value, field: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    value
        .get(field)?
        .as_str()
        .and_then(|text| chrono::DateTime::parse_from_rfc3339(text).ok())
        .map(|time| time.with_timezone(&chrono::Utc))
}

/// A pseudo-random number in `0..bound` from the clock, to spread kill times over the monitor's
/// round (no random crate needed for that).
pub fn jitter(bound: u64) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.subsec_nanos() as u64)
        .unwrap_or_default();
    // xorshift to spread the low bits
    let mut x = nanos ^ 0x9E37_79B9_7F4A_7C15;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    if bound == 0 { 0 } else { x % bound }
}

/// The load on this machine, to print beside the figures.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| text.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

pub fn machine_note() {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    println!("machine: {cores} cores, load average {} (1, 5, 15 min)", load_average());
    if quick() {
        println!("STANDBY_BENCH_QUICK is set: fewer repetitions, figures are a smoke test only");
    }
}
