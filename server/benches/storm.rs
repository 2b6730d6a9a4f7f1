//! Benchmark (issue 16): a failover storm. 50 recorder agents are SIGKILLed at once while 10
//! failover servers are free, at the default monitor settings. Measured: kill → `active` for the
//! 10 that are failed over (bound: the SIGKILL bound, 300 ms), kill → the `no_failover_server`
//! entry of each of the 40 others, that each is logged once (not once per monitor round), and,
//! as failed-over recorders are repaired and failed back one by one, failback finished → a
//! waiting recorder's failover `active` on the freed failover server ("used at once").
//!
//! Run: `cargo build --release -p server -p recorder`, then `cargo bench -p server --bench
//! storm`. `STANDBY_BENCH_QUICK=1`: 5 recorders, 2 failover servers, 1 repair;
//! `STANDBY_BENCH_RECORDERS`, `STANDBY_BENCH_FAILOVER_SERVERS`, `STANDBY_BENCH_REPAIRS` for
//! other sizes. The agents record at 1 frame per second and 64 kbit/s, so 60 of them fit on two
//! cores beside the manager; what the storm measures is the manager.

use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::{Duration, Instant};
use testkit::bench::{self, Stats, ms, ms_between, table, time_field};
use testkit::binaries::Binary;
use testkit::{Monitor, Site};

/// The SIGKILL → `active` bound at the default settings.
const ACTIVE_BOUND_MS: f64 = 300.0;
/// Waiting for the storm to settle, and for each reuse.
const SETTLE: Duration = Duration::from_secs(60);
/// After settling, entries are counted again this much later: refusals are logged once.
const RECOUNT_AFTER: Duration = Duration::from_secs(3);

fn recorder(index: usize) -> String {
    format!("rec-{index:02}")
}

fn failover_server(index: usize) -> String {
    format!("fo-{index:02}")
}

fn settings() -> Value {
    json!({ "failover_enabled": true, "auto_failback": false, "copy_after_failback": false })
}

fn name_of(entry: &Value, field: &str) -> String {
    entry[field]["name"].as_str().unwrap_or_default().to_owned()
}

#[tokio::main]
async fn main() {
    bench::require(&[Binary::Manager, Binary::Agent]);
    bench::machine_note();
    let recorders = bench::count("RECORDERS", 50, 5);
    let free = bench::count("FAILOVER_SERVERS", 10, 2);
    let repairs = bench::count("REPAIRS", 5, 1).min(free).min(recorders.saturating_sub(free));
    let licence = u32::try_from(recorders + free).unwrap_or(u32::MAX);
    let mut site = Site::start_monitored(Some(licence), Monitor::DEFAULT, &[]).await;
    site.agent_args =
        ["--video-fps", "1", "--video-bitrate-kbps", "64"].map(str::to_owned).to_vec();
    let started = Instant::now();
    for index in 0..free {
        site.agent_with(&failover_server(index), "failover", settings()).await;
    }
    for index in 0..recorders {
        site.agent_with(&recorder(index), "recorder", settings()).await;
    }
    for index in 0..free {
        site.wait_state(&failover_server(index), "standby").await;
    }
    for index in 0..recorders {
        site.wait_state(&recorder(index), "ok").await;
        site.wait_settings_cached(&recorder(index)).await;
    }
    println!(
        "{recorders} recorders ok with their settings cached and {free} failover servers on \
         standby after {:.1} s; monitor: {}",
        started.elapsed().as_secs_f64(),
        Monitor::DEFAULT.describe()
    );

    // One `kill` for all of them, so they die within a millisecond of each other.
    let pids: Vec<String> =
        (0..recorders).map(|index| site.agents[&recorder(index)].pid().to_string()).collect();
    let killed_at = chrono::Utc::now();
    let killed = std::process::Command::new("kill")
        .arg("-KILL")
        .args(&pids)
        .status()
        .is_ok_and(|status| status.success());
    assert!(killed, "SIGKILL to {} recorder agents", pids.len());
    for index in 0..recorders {
        site.kill(&recorder(index)).await;
    }

    let waiting_count = recorders.saturating_sub(free);
    let (active, refused) =
        bench::wait_for("the storm to settle", SETTLE, Duration::from_millis(50), || async {
            let active = site.failovers("?state=active").await;
            let refused = refusals(&site).await;
            let done = active.iter().filter(|entry| entry["status"] == "active").count()
                == free.min(recorders)
                && refused.len() >= waiting_count;
            done.then_some((active, refused))
        })
        .await;
    let settled_ms = ms_between(killed_at, chrono::Utc::now());
    tokio::time::sleep(RECOUNT_AFTER).await;
    let refused_later = refusals(&site).await.len();
    let active_later = site.failovers("?state=active").await.len();
    let mut covered: Vec<String> = active
        .iter()
        .chain(&refused)
        .map(|entry| name_of(entry, "recorder"))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    covered.sort();

    let kill_to_active: Vec<f64> = active
        .iter()
        .filter_map(|entry| time_field(entry, "failover_finished_at"))
        .map(|at| ms_between(killed_at, at))
        .collect();
    let kill_to_refusal: Vec<f64> = refused
        .iter()
        .filter_map(|entry| time_field(entry, "failover_started_at"))
        .map(|at| ms_between(killed_at, at))
        .collect();

    // Repairs: one failed-over recorder at a time comes back and is failed back by hand; its
    // failover server is free again and a waiting recorder should be failed over to it at once.
    let mut reuse = Vec::new();
    let mut reused_by_waiting = 0;
    let waiting: HashSet<String> = refused.iter().map(|entry| name_of(entry, "recorder")).collect();
    let mut seen: HashSet<i64> = active.iter().filter_map(|entry| entry["id"].as_i64()).collect();
    for entry in active.iter().take(repairs) {
        let (repaired, freed) = (name_of(entry, "recorder"), name_of(entry, "failover_server"));
        let Some(id) = entry["id"].as_i64() else { continue };
        site.agent(&repaired, "recorder").await;
        let back = bench::wait_for(
            &format!("{repaired} failed back"),
            SETTLE,
            Duration::from_millis(100),
            || async {
                let (status, _) =
                    site.post(&format!("/api/v1/failovers/{id}/failback"), json!({})).await;
                if status != 200 {
                    return None;
                }
                let entry = site.get(&format!("/api/v1/failovers/{id}")).await;
                time_field(&entry, "failback_finished_at")
            },
        )
        .await;
        let next = bench::wait_for(
            &format!("{freed} acting for a waiting recorder"),
            SETTLE,
            Duration::from_millis(20),
            || async {
                site.failovers("?state=active").await.into_iter().find(|entry| {
                    entry["status"] == "active"
                        && name_of(entry, "failover_server") == freed
                        && entry["id"].as_i64().is_some_and(|id| !seen.contains(&id))
                })
            },
        )
        .await;
        if let Some(id) = next["id"].as_i64() {
            seen.insert(id);
        }
        if waiting.contains(&name_of(&next, "recorder")) {
            reused_by_waiting += 1;
        }
        if let Some(at) = time_field(&next, "failover_finished_at") {
            reuse.push(ms_between(back, at));
        }
        println!(
            "  {repaired} failed back; {freed} active for {} {} ms later",
            name_of(&next, "recorder"),
            ms(reuse.last().copied())
        );
    }

    let stats_row = |label: &str, values: &[f64], bound: Option<f64>| {
        let stats = Stats::of(values);
        vec![
            label.to_owned(),
            values.len().to_string(),
            ms(stats.map(|s| s.median)),
            ms(stats.map(|s| s.p95)),
            ms(stats.map(|s| s.max)),
            bound.map_or("–".to_owned(), |bound| format!("{bound:.0}")),
            match (stats, bound) {
                (Some(stats), Some(bound)) => format!("{:.2}", stats.p95 / bound),
                _ => "–".to_owned(),
            },
        ]
    };
    table(
        &format!(
            "Failover storm: {recorders} recorders SIGKILLed at once, {free} failover servers free \
             (ms)"
        ),
        &["what", "n", "median", "p95", "max", "bound", "p95 ÷ bound"],
        &[
            stats_row("kill → failover active", &kill_to_active, Some(ACTIVE_BOUND_MS)),
            stats_row("kill → no_failover_server entry", &kill_to_refusal, None),
            stats_row("failback finished → freed server active for another", &reuse, None),
        ],
    );
    table(
        "Failover storm: entries",
        &["what", "expected", "seen"],
        &[
            vec![
                "active failovers".into(),
                free.min(recorders).to_string(),
                active.len().to_string(),
            ],
            vec![
                "no_failover_server entries".into(),
                waiting_count.to_string(),
                refused.len().to_string(),
            ],
            vec![
                format!("no_failover_server entries {} s later", RECOUNT_AFTER.as_secs()),
                waiting_count.to_string(),
                refused_later.to_string(),
            ],
            vec![
                format!("active failovers {} s later", RECOUNT_AFTER.as_secs()),
                free.min(recorders).to_string(),
                active_later.to_string(),
            ],
            vec![
                "dead recorders with an entry".into(),
                recorders.to_string(),
                covered.len().to_string(),
            ],
            vec![
                "freed servers taken by a waiting recorder".into(),
                repairs.to_string(),
                reused_by_waiting.to_string(),
            ],
        ],
    );
    println!(
        "settled (all {} entries written and seen) {} ms after the kill; {:.1} s in all",
        active.len() + refused.len(),
        ms(Some(settled_ms)),
        started.elapsed().as_secs_f64()
    );
    let wrong = active.len() != free.min(recorders)
        || refused.len() != waiting_count
        || refused_later != waiting_count
        || covered.len() != recorders
        || reused_by_waiting != repairs;
    if wrong {
        eprintln!("the storm did not end as it should (see the entries table)");
        std::process::exit(1);
    }
}

/// The `no_failover_server` entries written so far.
async fn refusals(site: &Site) -> Vec<Value> {
    site.failovers("?state=finalized")
        .await
        .into_iter()
        .filter(|entry| entry["error_code"] == "no_failover_server")
        .collect()
}
