//! Benchmark (issue 16): what watching N recorders costs the manager, on SQLite: its CPU time as
//! a share of one core and its RSS over a steady period, every stand-in recorder answering on
//! its heartbeat stream at the default pace (250 ms). Bounds for 1,000 recorders: 10 % of one
//! core and 100 MiB.
//!
//! Run: `cargo build --release -p server -p recorder`, then
//! `cargo bench -p server --bench monitor` (`STANDBY_BENCH_QUICK=1`: 200 recorders, 5 s;
//! `STANDBY_BENCH_RECORDERS=N` for another count).

use serde_json::json;
use std::time::{Duration, Instant};
use testkit::bench::{self, table};
use testkit::binaries::Binary;
use testkit::{http, manager};

const CPU_BOUND: f64 = 0.10;
const RSS_BOUND_MIB: f64 = 100.0;

#[tokio::main]
async fn main() {
    bench::require(&[Binary::Manager]);
    bench::machine_note();
    let recorders = bench::count("RECORDERS", 1000, 200);
    let steady = if bench::quick() { Duration::from_secs(5) } else { Duration::from_secs(20) };

    let responders = bench::health_responders(recorders).await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let database_url = format!("sqlite://{}", dir.path().join("standby.db").display());
    let admin = manager::create_token(&database_url, "bench-admin", "admin").await;
    let manager = manager::start(&database_url, &[], &[]).await;
    let client = http::client_with_token(&admin);
    let servers_url = manager.url("/api/v1/servers");

    let registering = Instant::now();
    {
        use futures::StreamExt;
        let (client, servers_url) = (&client, &servers_url);
        futures::stream::iter(responders.iter().enumerate())
            .map(|(i, address)| async move {
                let body = json!({ "name": format!("stand-in-{i:05}"), "address": address,
                    "kind": "recorder", "failover_enabled": true, "auto_failback": false });
                let (status, answer) =
                    http::send(client, reqwest::Method::POST, servers_url, Some(&body)).await;
                assert_eq!(status, 201, "registering stand-in {i}: {answer}");
            })
            .buffer_unordered(8)
            .collect::<Vec<()>>()
            .await;
    }
    println!(
        "registered {recorders} stand-in recorders in {:.1} s",
        registering.elapsed().as_secs_f64()
    );
    bench::wait_for(
        "every stand-in ok",
        Duration::from_secs(300),
        Duration::from_millis(200),
        || {
            let (client, url) = (&client, &servers_url);
            async move {
                let servers = http::get_json(client, url).await?;
                let ok = servers.as_array()?.iter().filter(|s| s["state"] == "ok").count();
                (ok == recorders).then_some(())
            }
        },
    )
    .await;
    // Registration's own work (and the first settings reads) is over before measuring.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let pid = manager.pid();
    let (cpu_before, started) = (bench::cpu_seconds(pid), Instant::now());
    tokio::time::sleep(steady).await;
    let share = (bench::cpu_seconds(pid) - cpu_before) / started.elapsed().as_secs_f64();
    let rss_mib = bench::status_kib(pid, "VmRSS") as f64 / 1024.0;
    let servers = http::get_json(&client, &servers_url).await.unwrap_or_default();
    let ok = servers.as_array().map(|all| all.iter().filter(|s| s["state"] == "ok").count());

    // The bounds are for 1,000 recorders; a smaller run is compared with its share of them.
    let scale = recorders as f64 / 1000.0;
    let rows = vec![
        vec![
            "CPU, share of one core".into(),
            format!("{:.1} %", share * 100.0),
            format!("{:.1} %", CPU_BOUND * scale * 100.0),
            format!("{:.2}", share / (CPU_BOUND * scale)),
        ],
        vec![
            "RSS".into(),
            format!("{rss_mib:.0} MiB"),
            format!("{RSS_BOUND_MIB:.0} MiB"),
            format!("{:.2}", rss_mib / RSS_BOUND_MIB),
        ],
    ];
    table(
        &format!(
            "Watching {recorders} recorders (heartbeat 250 ms, SQLite), {:.0} s steady, {} still ok",
            steady.as_secs_f64(),
            ok.unwrap_or(0)
        ),
        &["figure", "measured", "bound", "ratio"],
        &rows,
    );
}
