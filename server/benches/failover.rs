//! Benchmark (issue 5): time from SIGKILL of a recorder agent to its failover log entry being
//! `active`, with 1, 50 and 500 monitored recorders, next to the configured detection window;
//! and the recording gap per channel, from the last record on the dead recorder to the first
//! record on the failover server.
//!
//! Run: `CARGO_TARGET_DIR=/work/target-bench cargo build --release -p server -p recorder` then
//! `CARGO_TARGET_DIR=/work/target-bench cargo bench -p server --bench failover`.
//! `STANDBY_BENCH_QUICK=1` for a smoke run; `STANDBY_BENCH_KILLS=N` for N kills per scenario.

use chrono::{DateTime, Duration as ChronoDuration, SecondsFormat, Utc};
use std::collections::BTreeMap;
use std::time::Duration;
use testkit::Monitor;
use testkit::bench::{self, FAILOVER, FailoverSite, Fault, RECORDER, Stats, ms, table};
use testkit::binaries::Binary;
use testkit::http;

struct Scenario {
    monitored: usize,
    flags: Monitor,
    fault: Fault,
    label: &'static str,
}

#[derive(Default)]
struct Outcome {
    detection: Vec<f64>,
    active: Vec<f64>,
    process: Vec<f64>,
    observed: Vec<f64>,
    /// Per channel kind: gap in ms per (channel, kill).
    gaps: BTreeMap<String, Vec<f64>>,
    /// Per channel id: gap in ms per kill.
    channel_gaps: BTreeMap<String, Vec<f64>>,
    /// Per channel kind: kill → first record on the failover server.
    first_on_failover: BTreeMap<String, Vec<f64>>,
    /// Per channel kind: (channel, kill) pairs with no record on one side in the window.
    missing: BTreeMap<String, usize>,
    /// What went wrong on the way (each time the scenario started over on a fresh site).
    anomalies: Vec<String>,
    /// Manual failback durations (ms), as the answers said.
    failback: Vec<f64>,
    seconds: f64,
}

#[tokio::main]
async fn main() {
    bench::require(&[Binary::Manager, Binary::Agent]);
    bench::machine_note();
    let kills = bench::count("KILLS", 20, 5);
    // One responder port per stand-in: the manager refuses two servers at one address.
    let responders = bench::health_responders(500).await;
    let scenarios = [
        Scenario { monitored: 1, flags: Monitor::FAST, fault: Fault::Kill, label: "fast" },
        Scenario { monitored: 50, flags: Monitor::FAST, fault: Fault::Kill, label: "fast" },
        Scenario { monitored: 500, flags: Monitor::FAST, fault: Fault::Kill, label: "fast" },
        Scenario { monitored: 1, flags: Monitor::DEFAULT, fault: Fault::Kill, label: "default" },
        Scenario { monitored: 500, flags: Monitor::DEFAULT, fault: Fault::Kill, label: "default" },
        Scenario { monitored: 1, flags: Monitor::DEFAULT, fault: Fault::Stop, label: "silent" },
    ];
    // `STANDBY_BENCH_SCENARIOS=1-fast,500-fast` runs only those.
    let chosen = std::env::var("STANDBY_BENCH_SCENARIOS").ok();
    let scenarios: Vec<&Scenario> = scenarios
        .iter()
        .filter(|scenario| {
            chosen.as_deref().is_none_or(|chosen| {
                chosen
                    .split(',')
                    .any(|name| name.trim() == format!("{}-{}", scenario.monitored, scenario.label))
            })
        })
        .collect();
    println!(
        "failover bench: {kills} SIGKILLs of a real recorder agent per scenario; \
         each stand-in recorder answers from an in-process listener of its own"
    );
    let mut results = Vec::new();
    for scenario in scenarios {
        println!(
            "\n== {} monitored recorder(s), {} monitor ({}) ==",
            scenario.monitored,
            scenario.label,
            scenario.flags.describe()
        );
        let outcome = run(scenario, kills, &responders).await;
        results.push((scenario, outcome));
    }
    report(&results);
    // A bench that measured no gap at all measured nothing: fail loudly (its smoke run in CI
    // then tells), rather than print an empty table.
    for (scenario, outcome) in &results {
        assert!(
            !outcome.gaps.is_empty(),
            "no recording gap was measured in scenario {} ({}): the playback reads failed \
             (STANDBY_BENCH_DEBUG=1 shows why)",
            scenario.monitored,
            scenario.label
        );
    }
}

/// How many times a scenario may start over on a fresh site after the site got stuck.
const MAX_FRESH_SITES: usize = 3;

async fn run(scenario: &Scenario, kills: usize, responders: &[String]) -> Outcome {
    let started = std::time::Instant::now();
    let mut outcome = Outcome::default();
    let mut sites = 0;
    while outcome.active.len() < kills && sites <= MAX_FRESH_SITES {
        sites += 1;
        let left = kills - outcome.active.len();
        if let Err(anomaly) = run_site(scenario, left, responders, &mut outcome).await {
            println!("  ANOMALY, starting over on a fresh site: {anomaly}");
            outcome.anomalies.push(anomaly);
        }
    }
    outcome.seconds = started.elapsed().as_secs_f64();
    outcome
}

/// Up to `kills` rounds on one fresh site; an error when the site got stuck on the way.
async fn run_site(
    scenario: &Scenario,
    kills: usize,
    responders: &[String],
    outcome: &mut Outcome,
) -> Result<(), String> {
    let started = std::time::Instant::now();
    let stand_ins = scenario.monitored.saturating_sub(1);
    let mut site = FailoverSite::start(scenario.flags, stand_ins, responders).await;
    site.wait_ready(Duration::from_secs(120))
        .await
        .map_err(|stuck| format!("the site never became ready: {stuck}"))?;
    println!("  site ready after {:.1} s", started.elapsed().as_secs_f64());
    let poll = Duration::from_millis(20);
    let hold = Duration::from_millis(bench::count("HOLD_MS", 1500, 1500) as u64);
    for round in 1..=kills {
        // Spread the kill over the monitor's round, so no phase is favoured.
        tokio::time::sleep(Duration::from_millis(bench::jitter(scenario.flags.interval_ms))).await;
        let kill = site.fail_and_wait_active(scenario.fault, poll).await;
        let (detection, active, process) =
            (kill.detection_ms(), kill.active_ms(), kill.process_ms());
        outcome.detection.extend(detection);
        outcome.active.extend(active);
        outcome.process.extend(process);
        outcome.observed.push(kill.observed_ms);

        // Let the failover server record for a while, as it would until the repair.
        tokio::time::sleep(hold).await;
        let restarted_at = Utc::now();
        site.restart_recorder().await;
        site.wait_recorder_recording().await;
        let failback = site.failback(kill.entry_id()).await;
        let failed_back_at = Utc::now();
        outcome.failback.push(failback.duration_ms);
        measure_gaps(&site, kill.killed_at, restarted_at, failed_back_at, outcome).await;
        let ready = site.wait_ready(Duration::from_secs(20)).await;
        println!(
            "  kill {:>2}/{}: detected {} ms, active {} ms (seen by poller {} ms), \
             failback {} ms",
            outcome.active.len(),
            outcome.active.len() + kills - round,
            ms(detection),
            ms(active),
            ms(Some(kill.observed_ms)),
            ms(Some(failback.duration_ms))
        );
        ready.map_err(|stuck| {
            format!("after failback {round} of this site, not ready for the next kill {stuck}")
        })?;
    }
    Ok(())
}

/// For every channel of the recorder: the last record the dead recorder kept before it was
/// killed, and the first record the failover server made for it after the kill (both from the
/// agents' playback API, restricted to each one's own origin).
async fn measure_gaps(
    site: &FailoverSite,
    killed_at: DateTime<Utc>,
    restarted_at: DateTime<Utc>,
    failed_back_at: DateTime<Utc>,
    outcome: &mut Outcome,
) {
    // Each agent reads only for its own secret.
    let recorder = site.site.agents[RECORDER].client();
    let failover = site.site.agents[FAILOVER].client();
    let channels =
        http::get_json(recorder, &format!("{}/api/v1/channels", site.recorder_address()))
            .await
            .and_then(|channels| channels.as_array().cloned())
            .unwrap_or_default();
    for channel in channels {
        let (Some(id), Some(kind)) = (channel["id"].as_str(), channel["kind"].as_str()) else {
            continue;
        };
        if period_ms(kind).is_none() {
            // Event channels (text, ANPR, alarms) record seconds apart: no gap to speak of.
            continue;
        }
        // The recorder's last own record before the kill: it was restarted after, so
        // everything it recorded before `restarted_at` is from its first life.
        let last = playback_times(
            recorder,
            site.recorder_address(),
            id,
            killed_at - ChronoDuration::seconds(10),
            restarted_at,
            RECORDER,
        )
        .await
        .map(|times| times.into_iter().max().unwrap_or_default());
        let first = playback_times(
            failover,
            site.failover_address(),
            id,
            killed_at,
            failed_back_at + ChronoDuration::seconds(1),
            FAILOVER,
        )
        .await
        .map(|times| times.into_iter().min().unwrap_or_default());
        match (last, first) {
            (Ok(last), Ok(first)) => {
                let gap = (first - last) as f64 / 1000.0;
                outcome.gaps.entry(kind.to_owned()).or_default().push(gap);
                outcome.channel_gaps.entry(id.to_owned()).or_default().push(gap);
                let killed_us = killed_at.timestamp_micros();
                outcome
                    .first_on_failover
                    .entry(kind.to_owned())
                    .or_default()
                    .push((first - killed_us) as f64 / 1000.0);
            }
            (last, first) => {
                if std::env::var_os("STANDBY_BENCH_DEBUG").is_some() {
                    for error in [last.err(), first.err()].into_iter().flatten() {
                        eprintln!("    gap of {id}: {error}");
                    }
                }
                *outcome.missing.entry(kind.to_owned()).or_default() += 1
            }
        }
    }
}

/// The record period of the continuously recorded kinds at the agent's defaults (video 10 fps,
/// audio 20 ms frames, metadata 1 Hz); `None` for event channels.
fn period_ms(kind: &str) -> Option<f64> {
    match kind {
        "video" => Some(100.0),
        "audio" => Some(20.0),
        "metadata" => Some(1000.0),
        _ => None,
    }
}

/// The timestamps (µs) of a channel's records in `[from, to)` of one origin, from the agent's
/// playback stream (`u32 len ‖ u32 crc ‖ i64 timestamp ‖ …`, little-endian, see recorder/API.md).
async fn playback_times(
    client: &reqwest::Client,
    agent: &str,
    channel: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    origin: &str,
) -> Result<Vec<i64>, String> {
    let from = from.to_rfc3339_opts(SecondsFormat::Micros, true);
    let to = to.to_rfc3339_opts(SecondsFormat::Micros, true);
    let url = format!("{agent}/api/v1/channels/{channel}/playback");
    let response = client
        .get(&url)
        .query(&[("from", from.as_str()), ("to", to.as_str()), ("origin", origin)])
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .map_err(|error| format!("GET {url}: {error}"))?;
    let status = response.status();
    let body = response.bytes().await.map_err(|error| format!("GET {url} body: {error}"))?;
    if !status.is_success() {
        return Err(format!("GET {url} answered {status}: {}", String::from_utf8_lossy(&body)));
    }
    let mut times = Vec::new();
    let mut at = 0usize;
    while at + 16 <= body.len() {
        let length = u32::from_le_bytes([body[at], body[at + 1], body[at + 2], body[at + 3]]);
        let Some(record) = body.get(at + 8..at + 8 + length as usize) else { break };
        let Some(stamp) = record.get(..8).and_then(|bytes| bytes.try_into().ok()) else { break };
        times.push(i64::from_le_bytes(stamp));
        at += 8 + length as usize;
    }
    if times.is_empty() {
        return Err(format!("no {origin} record of {channel} in [{from}, {to})"));
    }
    Ok(times)
}

fn report(results: &[(&Scenario, Outcome)]) {
    let mut rows = Vec::new();
    for (scenario, outcome) in results {
        let detection = Stats::of(&outcome.detection);
        let active = Stats::of(&outcome.active);
        let process = Stats::of(&outcome.process);
        let observed = Stats::of(&outcome.observed);
        let flags = scenario.flags;
        // A killed process is noticed from its dropped connection (bound: 300 ms); a silent
        // one when its heartbeats have stopped for the window (bound: window + 300 ms).
        let expected = match scenario.fault {
            Fault::Kill => "≤ 300".to_owned(),
            Fault::Stop => format!("{}–{}", flags.window_ms, flags.window_ms + 300),
        };
        rows.push(vec![
            format!("{} ({})", scenario.monitored, scenario.label),
            flags.interval_ms.to_string(),
            flags.window_ms.to_string(),
            expected,
            active.map_or(0, |s| s.n).to_string(),
            ms(detection.map(|s| s.median)),
            ms(detection.map(|s| s.p95)),
            ms(active.map(|s| s.median)),
            ms(active.map(|s| s.p95)),
            ms(active.map(|s| s.max)),
            ms(process.map(|s| s.median)),
            ms(observed.map(|s| s.median)),
            ms(Stats::of(&outcome.failback).map(|s| s.median)),
            outcome.anomalies.len().to_string(),
            format!("{:.0}", outcome.seconds),
        ]);
    }
    table(
        "SIGKILL (or, `silent`, SIGSTOP) → failover log entry `active` (ms; from the entry's \
         failover_started_at and failover_finished_at against the fault's wall-clock time)",
        &[
            "monitored",
            "interval",
            "window",
            "expected detection",
            "kills",
            "detect median",
            "detect p95",
            "active median",
            "active p95",
            "active max",
            "process median",
            "seen by poller median",
            "failback median",
            "stuck sites",
            "run s",
        ],
        &rows,
    );

    let mut rows = Vec::new();
    for (scenario, outcome) in results {
        for (kind, gaps) in &outcome.gaps {
            let gap = Stats::of(gaps);
            let first = Stats::of(&outcome.first_on_failover[kind]);
            rows.push(vec![
                format!("{} ({})", scenario.monitored, scenario.label),
                kind.clone(),
                ms(period_ms(kind)),
                gaps.len().to_string(),
                outcome.missing.get(kind).copied().unwrap_or(0).to_string(),
                ms(gap.map(|s| s.median)),
                ms(gap.map(|s| s.p95)),
                ms(gap.map(|s| s.max)),
                ms(first.map(|s| s.median)),
            ]);
        }
        for (kind, missing) in &outcome.missing {
            if !outcome.gaps.contains_key(kind) {
                rows.push(vec![
                    format!("{} ({})", scenario.monitored, scenario.label),
                    kind.clone(),
                    ms(period_ms(kind)),
                    "0".into(),
                    missing.to_string(),
                    "–".into(),
                    "–".into(),
                    "–".into(),
                    "–".into(),
                ]);
            }
        }
    }
    table(
        "Recording gap per channel kind: last record on the dead recorder → first record on the \
         failover server (ms, pooled over the kind's channels and all kills)",
        &[
            "monitored",
            "kind",
            "record period",
            "samples",
            "no record in window",
            "gap median",
            "gap p95",
            "gap max",
            "kill → first failover record median",
        ],
        &rows,
    );

    // Per channel: median gap in each scenario.
    let channels: std::collections::BTreeSet<&String> =
        results.iter().flat_map(|(_, outcome)| outcome.channel_gaps.keys()).collect();
    let headers: Vec<String> = std::iter::once("channel".to_owned())
        .chain(results.iter().map(|(scenario, _)| {
            format!("{} ({}) median / max", scenario.monitored, scenario.label)
        }))
        .collect();
    let rows: Vec<Vec<String>> = channels
        .iter()
        .map(|channel| {
            std::iter::once((*channel).clone())
                .chain(results.iter().map(|(_, outcome)| {
                    let stats = outcome.channel_gaps.get(*channel).and_then(|gaps| Stats::of(gaps));
                    format!("{} / {}", ms(stats.map(|s| s.median)), ms(stats.map(|s| s.max)))
                }))
                .collect()
        })
        .collect();
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    table("Recording gap per channel (ms, over all kills of each scenario)", &headers, &rows);
    println!(
        "\nMethod: the manager is the real `standby serve` on a fresh SQLite file (licence: failover \
         enabled, 1 failover server), rec-1 and fo-1 are real `standby-recorder` processes \
         recording their default channels; the other monitored recorders are stand-ins: \
         registered servers with unique names and addresses, each a tiny axum listener in the \
         bench process answering GET /api/v1/health, its heartbeat stream and /api/v1/settings (so \
         the monitor really watches 500 servers over HTTP, without 500 recording processes). \
         Each round: random sleep within one monitor interval, SIGKILL rec-1, poll \
         GET /api/v1/failovers?state=active every 20 ms until rec-1's new entry is active; let \
         fo-1 record for 1.5 s (STANDBY_BENCH_HOLD_MS); restart rec-1 on its port, POST /failback, wait for ok/standby. Times come from the \
         entry's own timestamps against the kill's wall clock (same machine). `expected \
         detection` is the range the window implies for a kill landing uniformly within a \
         round, before any round overhead. The gap is measured with the agents' playback API \
         (records framed per recorder/API.md): the dead recorder's newest own record in \
         [kill − 10 s, restart), the failover server's oldest own record in [kill, failback + 1 s). \
         A gap includes up to one record period of the channel (a 1 Hz metadata channel's last \
         record is up to 1 s old at the kill). Text, ANPR and alarm channels are left out: they \
         record events seconds apart (text 2–8 s, ANPR 10–40 s, alarms 30–120 s) and every \
         channel writes a record whenever its plan starts (also at this bench's failback), so \
         their `gap` would measure the bench's own rhythm. `no record in window` counts \
         (channel, kill) pairs without a record on one side."
    );
    println!(
        "`stuck sites`: times a site was left not ready after a performed failback (see the \
         ANOMALY lines) and the scenario went on with a fresh manager and agents; at most \
         {MAX_FRESH_SITES} fresh sites per scenario."
    );
    for (scenario, outcome) in results {
        for anomaly in &outcome.anomalies {
            println!(
                "ANOMALY with {} monitored ({}): {anomaly}",
                scenario.monitored, scenario.label
            );
        }
    }
    println!("machine load at the end: {}", bench::load_average());
}
