//! Benchmark (issue 6): manual failback duration, trigger to performed, over 20 failbacks.
//!
//! Each round: SIGKILL the real recorder agent, wait for its failover to be `active`, start it
//! again on the same port (a repaired server back at the same address), wait until it records,
//! then `POST /api/v1/failovers/{id}/failback` and take `duration_ms` from the answer.
//!
//! Run: `CARGO_TARGET_DIR=/work/target-bench cargo build --release -p server -p recorder` then
//! `CARGO_TARGET_DIR=/work/target-bench cargo bench -p server --bench failback`.
//! `STANDBY_BENCH_QUICK=1` for a smoke run; `STANDBY_BENCH_FAILBACKS=N` for N rounds.

use std::time::Duration;
use testkit::Monitor;
use testkit::bench::{self, FailoverSite, Stats, ms, table};
use testkit::binaries::Binary;

#[tokio::main]
async fn main() {
    bench::require(&[Binary::Manager, Binary::Agent]);
    bench::machine_note();
    let rounds = bench::count("FAILBACKS", 20, 5);
    let flags = Monitor::DEFAULT;
    let hold = Duration::from_millis(bench::count("HOLD_MS", 1500, 1500) as u64);
    println!(
        "failback bench: {rounds} manual failbacks, monitor at the defaults ({})",
        flags.describe()
    );
    let started = std::time::Instant::now();
    let (mut durations, mut round_trips, mut failovers) = (Vec::new(), Vec::new(), Vec::new());
    let mut refusals = 0;
    let mut anomalies: Vec<String> = Vec::new();
    // A site left stuck after a failback is reported, and the run goes on with a fresh one.
    'sites: while durations.len() < rounds && anomalies.len() <= 3 {
        let mut site = FailoverSite::start(flags, 0, &[]).await;
        if let Err(stuck) = site.wait_ready(Duration::from_secs(120)).await {
            anomalies.push(format!("the site never became ready: {stuck}"));
            continue;
        }
        while durations.len() < rounds {
            tokio::time::sleep(Duration::from_millis(bench::jitter(flags.interval_ms))).await;
            let kill = site.kill_and_wait_active(Duration::from_millis(50)).await;
            // The failover server records for a while, as it would until the repair.
            tokio::time::sleep(hold).await;
            site.restart_recorder().await;
            site.wait_recorder_recording().await;
            let failback = site.failback(kill.entry_id()).await;
            let ready = site.wait_ready(Duration::from_secs(20)).await;
            durations.push(failback.duration_ms);
            round_trips.push(failback.round_trip_ms);
            failovers.extend(kill.active_ms());
            refusals += failback.refusals;
            println!(
                "  failback {:>2}/{rounds}: {} ms (POST round trip {} ms, refused first {} time(s))",
                durations.len(),
                ms(Some(failback.duration_ms)),
                ms(Some(failback.round_trip_ms)),
                failback.refusals
            );
            if let Err(stuck) = ready {
                let anomaly = format!("after failback {}: {stuck}", durations.len());
                println!("  ANOMALY, starting over on a fresh site: {anomaly}");
                anomalies.push(anomaly);
                continue 'sites;
            }
        }
    }
    let row = |what: &str, values: &[f64]| {
        let stats = Stats::of(values);
        vec![
            what.to_owned(),
            stats.map_or(0, |s| s.n).to_string(),
            ms(stats.map(|s| s.min)),
            ms(stats.map(|s| s.median)),
            ms(stats.map(|s| s.p95)),
            ms(stats.map(|s| s.max)),
        ]
    };
    table(
        "Manual failback, trigger to performed (ms)",
        &["measure", "n", "min", "median", "p95", "max"],
        &[
            row("duration_ms in the answer (failback started → performed; whole ms)", &durations),
            row("POST /failback round trip seen by the client", &round_trips),
            row("(context) SIGKILL → failover active, same rounds", &failovers),
        ],
    );
    println!(
        "\nMethod: real `standby serve` (SQLite file, licence with 1 failover server, monitor \
         defaults), real `standby-recorder` agents rec-1 (registered with auto_failback false, \
         copy_after_failback false) and fo-1, all on 127.0.0.1. Each round: SIGKILL rec-1, wait for its failover \
         to be active, let fo-1 record for 1.5 s (STANDBY_BENCH_HOLD_MS), restart rec-1 on its \
         port. The failback is triggered once the restarted rec-1 reports `recording: true` on its own health endpoint; {refusals} \
         request(s) in all were refused first (e.g. recorder not reachable yet) and retried every \
         100 ms. The duration covers the seed's steps: the checks, taking the settings from the \
         cache, setting them on the repaired recorder, waiting until it records again, setting \
         the failover server idle, logging. Whole run: {:.0} s; load at the end: {}.",
        started.elapsed().as_secs_f64(),
        bench::load_average()
    );
    for anomaly in anomalies {
        println!("ANOMALY: {anomaly}");
    }
}
