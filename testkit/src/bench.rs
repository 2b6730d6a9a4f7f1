//! What the benchmarks share besides the processes: repetition counts, the machine note,
//! statistics and the tables they print, cheap health responders standing in for recorders,
//! and the failover/failback site (one real recorder, one real failover server).
//!
//! Benchmarks report figures; they never assert on time. Every wait is bounded.

use crate::binaries::{self, Binary};
use crate::http::{get_json, send};
use crate::process::Stderr;
use crate::site::{Monitor, Site};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::future::Future;
use std::time::{Duration, Instant};

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

/// Says which binaries the bench drives, or exits with how to build them: a bench run without
/// them is a set-up mistake, not a failure worth a backtrace.
pub fn require(needed: &[Binary]) {
    let mut found = Vec::new();
    for binary in needed {
        match binary.find() {
            Ok(path) => found.push(path.display().to_string()),
            Err(missing) => {
                eprintln!("The benchmark drives the real binaries. {missing}.");
                std::process::exit(2);
            }
        }
    }
    println!("binaries: {}", found.join(" and "));
    if binaries::directory().is_ok_and(|dir| !dir.ends_with("release")) {
        println!("  (not a release build: figures are slower than a release build's)");
    }
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

/// `12.3` style (whole numbers from 100 on), or `–` for nothing.
pub fn ms(value: Option<f64>) -> String {
    match value {
        Some(value) if value.abs() >= 100.0 => format!("{value:.0}"),
        Some(value) => format!("{value:.1}"),
        None => "–".to_owned(),
    }
}

/// A plain-text table with aligned columns (the first to the left, the others to the right)
/// that pastes into Markdown.
pub fn table(title: &str, headers: &[&str], rows: &[Vec<String>]) {
    println!();
    println!("{title}");
    for line in table_lines(headers, rows) {
        println!("{line}");
    }
}

fn table_lines(headers: &[&str], rows: &[Vec<String>]) -> Vec<String> {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(
                |(i, (cell, &w))| {
                    if i == 0 { format!("{cell:<w$}") } else { format!("{cell:>w$}") }
                },
            )
            .collect();
        format!("| {} |", padded.join(" | "))
    };
    let rule: Vec<String> = widths
        .iter()
        .enumerate()
        .map(|(i, w)| {
            if i == 0 {
                format!(":{}", "-".repeat(w + 1))
            } else {
                format!("{}:", "-".repeat(w + 1))
            }
        })
        .collect();
    let mut lines = vec![line(&headers.iter().map(|h| h.to_string()).collect::<Vec<_>>())];
    lines.push(format!("|{}|", rule.join("|")));
    lines.extend(rows.iter().map(|row| line(row)));
    lines
}

/// Milliseconds between two instants of the wall clock (both on this machine).
pub fn ms_between(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_microseconds().unwrap_or(i64::MAX) as f64 / 1000.0
}

/// An RFC 3339 time from a JSON field.
pub fn time_field(value: &Value, field: &str) -> Option<DateTime<Utc>> {
    value
        .get(field)?
        .as_str()
        .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
        .map(|time| time.with_timezone(&Utc))
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

/// Cheap stand-ins for recorders: `ports` listeners in this process answering the agent's
/// `GET /api/v1/health`, its heartbeat stream `GET /api/v1/health/stream?every_ms=` (the same
/// NDJSON protocol) and `GET /api/v1/settings` (an empty bundle, version 1) with the agent
/// API's own types, so the manager's health monitor has thousands of live servers to watch
/// without thousands of recording processes. Returns their addresses.
pub async fn health_responders(ports: usize) -> Vec<String> {
    let mut addresses = Vec::with_capacity(ports);
    for _ in 0..ports {
        addresses.push(health_responder("bench-stand-in").await);
    }
    addresses
}

/// One stand-in recorder as [`health_responders`] starts them, on a loopback port of its own,
/// whose health answers carry `name` (the name it is registered under, as a real agent's do).
/// Returns its address.
pub async fn health_responder(name: &str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port for a health responder");
    let address = listener.local_addr().expect("a bound address");
    let app = stand_in_routes(name);
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            eprintln!("health responder {address} stopped: {error}");
        }
    });
    format!("http://{address}")
}

/// What a stand-in recorder answers, for any listener: `GET /api/v1/health` and its heartbeat
/// stream with `name`, and `GET /api/v1/settings` (an empty bundle, version 1), in the agent
/// API's own types.
pub fn stand_in_routes(name: &str) -> axum::Router {
    use agent_api::{Health, ServerKind, SettingsBundle, paths};
    use axum::Json;
    use axum::routing::get;
    let health = Health {
        name: name.to_owned(),
        kind: ServerKind::Recorder,
        acting_for: None,
        recording: true,
        settings_version: 1,
        load: None,
        capacity: None,
    };
    let settings = SettingsBundle {
        version: 1,
        channels: Vec::new(),
        config_files: Vec::new(),
        privacy_masks: Vec::new(),
        schedules: Vec::new(),
    };
    let mut line = serde_json::to_vec(&health).expect("a Health serialises");
    line.push(b'\n');
    let line = bytes_of(line);
    let stream = move |axum::extract::Query(query): axum::extract::Query<
        std::collections::HashMap<String, u64>,
    >| {
        let line = line.clone();
        let every = Duration::from_millis(query.get("every_ms").copied().unwrap_or(250).max(50));
        async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let beats = futures::stream::unfold(ticks, move |mut ticks| {
                let line = line.clone();
                async move {
                    ticks.tick().await;
                    HEARTBEATS_SENT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    Some((Ok::<_, std::convert::Infallible>(line), ticks))
                }
            });
            ([("content-type", agent_api::health::NDJSON)], axum::body::Body::from_stream(beats))
        }
    };
    axum::Router::new()
        .route(paths::HEALTH, get(move || std::future::ready(Json(health.clone()))))
        .route(paths::HEALTH_STREAM, get(stream))
        .route(paths::SETTINGS, get(move || std::future::ready(Json(settings.clone()))))
}

/// Heartbeats the stand-ins of this process handed to their streams so far.
static HEARTBEATS_SENT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many heartbeats the stand-in recorders of this process ([`health_responder`]) have handed
/// to their streams so far: a bench compares it with the pace they were asked for, to see
/// whether a busy machine slowed them down.
pub fn heartbeats_sent() -> u64 {
    HEARTBEATS_SENT.load(std::sync::atomic::Ordering::Relaxed)
}

fn bytes_of(line: Vec<u8>) -> axum::body::Bytes {
    axum::body::Bytes::from(line)
}

/// CPU seconds (user + system) a process has used so far, from `/proc/<pid>/stat`.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name may hold spaces: fields are counted after its closing parenthesis.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of stat(5); 12 and 13 after the name and state.
    (ticks(11) + ticks(12)) / clock_ticks()
}

fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8_lossy(&out.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// A `/proc/<pid>/status` figure in KiB (e.g. `VmRSS`), 0 when it cannot be read.
pub fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

pub const RECORDER: &str = "rec-1";
pub const FAILOVER: &str = "fo-1";

/// The failover and failback benchmarks' site: a manager (licence for 1 failover server) with
/// one real recorder agent (`rec-1`) and one real failover server (`fo-1`), plus any number of
/// stand-in recorders answering from [`health_responders`], all on 127.0.0.1.
pub struct FailoverSite {
    pub site: Site,
    pub recorder_id: i64,
    /// Failover log entries already seen, so each kill finds its own.
    seen: HashSet<i64>,
}

/// How the recorder dies in a benchmark round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// SIGKILL: the process is gone, its connections close (a crash).
    Kill,
    /// SIGSTOP: the process stops answering but the kernel keeps its connections open (a host
    /// that vanished without a word, e.g. a power cut beyond a switch). Restarting it kills it.
    Stop,
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

/// Monitored for failover, manual failback only, no material copy.
fn bench_settings() -> Value {
    json!({ "failover_enabled": true, "auto_failback": false, "copy_after_failback": false })
}

impl FailoverSite {
    /// Starts the manager with `monitor`, the two real agents, and `stand_ins` stand-in
    /// recorders spread over `responders` (addresses may repeat; names are unique). Call
    /// [`FailoverSite::wait_ready`] before the first kill. The agents log to standard error
    /// at `STANDBY_BENCH_AGENT_LOG` (default `warn`).
    pub async fn start(monitor: Monitor, stand_ins: usize, responders: &[String]) -> FailoverSite {
        let mut site = Site::start_monitored(Some(1), monitor, &[]).await;
        let level = std::env::var("STANDBY_BENCH_AGENT_LOG").unwrap_or_else(|_| "warn".into());
        site.agent_env = vec![("RUST_LOG".into(), level)];
        site.agent_stderr = Some(Stderr::Inherit);
        site.agent_with(RECORDER, "recorder", bench_settings()).await;
        site.agent_with(FAILOVER, "failover", bench_settings()).await;
        let recorder_id =
            site.server(RECORDER).await["id"].as_i64().expect("the new server has an id");
        if stand_ins > 0 {
            assert!(!responders.is_empty(), "stand-in recorders need health responders");
            use futures::StreamExt;
            let names: Vec<(String, String)> = (0..stand_ins)
                .map(|i| (format!("stand-in-{i:04}"), responders[i % responders.len()].clone()))
                .collect();
            let site = &site;
            futures::stream::iter(names)
                .map(|(name, address)| async move {
                    site.register(&name, &address, "recorder", bench_settings()).await;
                })
                .buffer_unordered(8)
                .collect::<Vec<()>>()
                .await;
        }
        FailoverSite { site, recorder_id, seen: HashSet::new() }
    }

    /// `http://…` of the real recorder and failover server.
    pub fn recorder_address(&self) -> &str {
        self.site.agents[RECORDER].address()
    }

    pub fn failover_address(&self) -> &str {
        self.site.agents[FAILOVER].address()
    }

    /// Every recorder `ok`, every failover server `standby`, the recorder's settings in the
    /// manager's cache, and a health round that saw rec-1 answer after this call: ready for the
    /// next kill. (Right after a failback, rec-1 is `ok` but its last_seen_at may still date from
    /// before its previous death; a kill then would be detected in less than the window.)
    /// After `limit`, the servers that are not ready, described.
    pub async fn wait_ready(&self, limit: Duration) -> Result<(), String> {
        let since = Utc::now();
        let deadline = Instant::now() + limit;
        let client = &self.site.client;
        let settings = self.site.url(&format!("/api/v1/servers/{}/settings", self.recorder_id));
        let servers_url = self.site.url("/api/v1/servers");
        loop {
            let servers = get_json(client, &servers_url)
                .await
                .and_then(|servers| servers.as_array().cloned())
                .unwrap_or_default();
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
                && get_json(client, &settings).await.is_some()
            {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let open = get_json(client, &self.site.url("/api/v1/failovers?state=active"))
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
        self.fail_and_wait_active(Fault::Kill, poll).await
    }

    /// As [`FailoverSite::kill_and_wait_active`], with the recorder dying as `fault` says.
    pub async fn fail_and_wait_active(&mut self, fault: Fault, poll: Duration) -> Kill {
        let killed_at = Utc::now();
        let start = Instant::now();
        match fault {
            Fault::Kill => self.site.kill(RECORDER).await,
            Fault::Stop => {
                let pid = self.site.agents[RECORDER].pid();
                let stopped = std::process::Command::new("kill")
                    .args(["-STOP".to_owned(), pid.to_string()])
                    .status()
                    .is_ok_and(|status| status.success());
                assert!(stopped, "SIGSTOP to rec-1 ({pid})");
            }
        }
        let seen = &self.seen;
        let url = self.site.url("/api/v1/failovers?state=active");
        let client = &self.site.client;
        let entry =
            wait_for("rec-1's failover to be active", Duration::from_secs(60), poll, || {
                let url = &url;
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
        self.site.agent(RECORDER, "recorder").await;
    }

    /// `POST /api/v1/failovers/{id}/failback`, retried (bounded) while it is refused because
    /// the repaired recorder is not reachable yet.
    pub async fn failback(&self, entry_id: i64) -> Failback {
        let url = self.site.url(&format!("/api/v1/failovers/{entry_id}/failback"));
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut refusals = 0;
        loop {
            let start = Instant::now();
            let (status, answer) =
                send(&self.site.client, reqwest::Method::POST, &url, Some(&json!({}))).await;
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
        let url = format!("{}/api/v1/health", self.recorder_address());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_take_the_median_and_the_nearest_rank_p95() {
        let values: Vec<f64> = (1..=20).map(f64::from).collect();
        let stats = Stats::of(&values).expect("values");
        assert_eq!((stats.n, stats.min, stats.max), (20, 1.0, 20.0));
        assert_eq!((stats.median, stats.p95, stats.mean), (10.5, 19.0, 10.5));
        assert!(Stats::of(&[]).is_none());
        assert_eq!(ms(Some(123.4)), "123");
        assert_eq!(ms(Some(1.26)), "1.3");
        assert_eq!(ms(None), "–");
    }

    #[test]
    fn tables_align_their_columns() {
        let rows = vec![vec!["a long name".to_owned(), "1".to_owned()]];
        assert_eq!(
            table_lines(&["what", "n"], &rows),
            ["| what        | n |", "|:------------|--:|", "| a long name | 1 |"]
        );
    }
}
