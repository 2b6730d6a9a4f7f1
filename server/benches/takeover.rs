//! Benchmark (issue 17): how long a site is without a leading manager. Two `standby serve` on one
//! PostgreSQL database at the default lease (3000 ms, renewed every 1000 ms); the leader is
//! stopped, a fresh follower is started for the next run, and so on. Measured: stop → the
//! follower lists itself as leader, after SIGKILL (bound: the lease plus one renewal, since the
//! follower looks once per renewal) and after SIGTERM (the leader resigns and tells the others,
//! so no lease has to run out), as ratios of the configured lease.
//!
//! Run: `cargo build --release -p server -p recorder`, then `cargo bench -p server --bench
//! takeover` (PostgreSQL at 127.0.0.1:5432, or `STANDBY_TEST_POSTGRES_URL`).
//! `STANDBY_BENCH_QUICK=1`: 3 runs of each; `STANDBY_BENCH_RUNS` for another count.

use std::time::{Duration, Instant};
use testkit::Site;
use testkit::bench::{self, Stats, ms, table};
use testkit::binaries::Binary;
use testkit::postgres::fresh_database;
use testkit::process::Process;

const LEASE_MS: f64 = 3000.0;
const RENEW_MS: f64 = 1000.0;
const POLL: Duration = Duration::from_millis(10);
const GIVE_UP: Duration = Duration::from_secs(30);

async fn leader(site: &Site, at: &Process) -> Option<String> {
    site.managers(at)
        .await?
        .iter()
        .find(|manager| manager["leader"] == true)
        .and_then(|manager| manager["id"].as_str().map(str::to_owned))
}

/// Waits until `at` lists a leader other than `not`; its id.
async fn new_leader(site: &Site, at: &Process, not: Option<&str>) -> String {
    let start = Instant::now();
    loop {
        if let Some(id) = leader(site, at).await
            && not.is_none_or(|not| not != id)
        {
            return id;
        }
        assert!(start.elapsed() < GIVE_UP, "no new leader within {GIVE_UP:?}");
        tokio::time::sleep(POLL).await;
    }
}

#[tokio::main]
async fn main() {
    bench::require(&[Binary::Manager]);
    bench::machine_note();
    let runs = bench::count("RUNS", 20, 3);
    let Some(database) = fresh_database("bench_takeover").await else { return };
    let mut site = Site::start_on_database(&database.url, None, &[]).await;
    let mut follower = site.another_manager().await;
    let mut rows = Vec::new();
    let mut summary = Vec::new();
    for graceful in [false, true] {
        let mut takeovers = Vec::new();
        for _ in 0..runs {
            let old = new_leader(&site, &follower, None).await;
            let stopped = Instant::now();
            if graceful {
                site.manager.terminate().await;
            } else {
                site.manager.kill().await;
            }
            let _ = new_leader(&site, &follower, Some(&old)).await;
            takeovers.push(stopped.elapsed().as_secs_f64() * 1000.0);
            // The follower leads now; a new follower joins for the next run.
            let joining = site.another_manager().await;
            site.manager = std::mem::replace(&mut follower, joining);
        }
        let how = if graceful { "SIGTERM" } else { "SIGKILL" };
        if let Some(stats) = Stats::of(&takeovers) {
            rows.push(vec![
                how.to_owned(),
                stats.n.to_string(),
                ms(Some(stats.min)),
                ms(Some(stats.median)),
                ms(Some(stats.p95)),
                ms(Some(stats.max)),
                format!("{:.2}", stats.median / LEASE_MS),
                format!("{:.2}", stats.p95 / LEASE_MS),
            ]);
            summary.push((how, stats));
        }
    }
    table(
        &format!(
            "Leader stopped → a follower leads (ms; lease {LEASE_MS} ms, renew {RENEW_MS} ms)"
        ),
        &["stop", "runs", "min", "median", "p95", "max", "median ÷ lease", "p95 ÷ lease"],
        &rows,
    );
    for (how, stats) in summary {
        println!(
            "{how}: p95 {:.0} ms = {:.2} of the lease + one renewal ({:.0} ms)",
            stats.p95,
            stats.p95 / (LEASE_MS + RENEW_MS),
            LEASE_MS + RENEW_MS
        );
    }
}
