//! Benchmark (issue 8): time for one system change notification to reach 500 connected
//! dashboards, i.e. 500 server-sent-event clients of `GET /api/v1/events`.
//!
//! Each change is a `PATCH /api/v1/servers/{id}` toggling `maintenance_mode`, which publishes a
//! `server_changed` event; every client notes when the event arrives. Reported: arrival latency
//! across clients (median, p95, max) per change and pooled, with 1 client as the baseline.
//!
//! Run: `CARGO_TARGET_DIR=/work/target-bench cargo build --release -p server -p recorder` then
//! `CARGO_TARGET_DIR=/work/target-bench cargo bench -p server --bench events`.
//! `STANDBY_BENCH_QUICK=1` for a smoke run; `STANDBY_BENCH_CLIENTS=N`, `STANDBY_BENCH_CHANGES=N`.

use futures::StreamExt;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use testkit::bench::{self, Stats, ms, table};
use testkit::binaries::Binary;
use testkit::{http, manager};
use tokio::sync::{Semaphore, mpsc};

const TARGET: &str = "bench-target";

/// Set when the bench ends, so dashboards losing their stream with the manager stay quiet.
static CLOSING: AtomicBool = AtomicBool::new(false);

/// What a client saw: which client, the maintenance mode the event carried, when.
type Arrival = (usize, bool, Instant);

struct Change {
    clients: usize,
    latencies: Vec<f64>,
    patch_ms: f64,
}

#[tokio::main]
async fn main() {
    bench::require(&[Binary::Manager]);
    bench::machine_note();
    let clients = bench::count("CLIENTS", 500, 100);
    let changes = bench::count("CHANGES", 10, 4);

    let dir = tempfile::tempdir().expect("a temporary directory");
    let database_url = format!("sqlite://{}", dir.path().join("standby.db").display());
    let admin = manager::create_token(&database_url, "bench-admin", "admin").await;
    let viewer = manager::create_token(&database_url, "wall-screen", "viewer").await;
    let manager = manager::start(&database_url, &[], &[]).await;
    let admin_client = http::client_with_token(&admin);
    let url = |path: &str| manager.url(path);

    // One server to change, answering its health checks so the monitor sends nothing of its own.
    let responder = bench::health_responders(1).await;
    let (status, server) = http::send(
        &admin_client,
        reqwest::Method::POST,
        &url("/api/v1/servers"),
        Some(&json!({"name": TARGET, "address": responder[0], "kind": "recorder",
                "failover_enabled": false, "auto_failback": false})),
    )
    .await;
    assert_eq!(status, 201, "registering {TARGET} was refused: {server}");
    let id = server["id"].as_i64().expect("the new server has an id");
    bench::wait_for("bench-target ok", Duration::from_secs(30), Duration::from_millis(50), || {
        let (client, url) = (&admin_client, url(&format!("/api/v1/servers/{id}")));
        async move { (http::get_json(client, &url).await?["state"] == "ok").then_some(()) }
    })
    .await;

    // Dashboards share one connection pool; each stream holds its own connection.
    let dashboards = reqwest::Client::builder()
        .default_headers({
            let mut headers = reqwest::header::HeaderMap::new();
            let value = format!("Bearer {viewer}").parse().expect("a header value");
            headers.insert(reqwest::header::AUTHORIZATION, value);
            headers
        })
        .build()
        .expect("an HTTP client");
    let (arrivals, mut received) = mpsc::unbounded_channel::<Arrival>();
    let connected = Arc::new(AtomicUsize::new(0));
    let connecting = Arc::new(Semaphore::new(32));
    let events_url = url("/api/v1/events");

    let mut results: Vec<Change> = Vec::new();
    let mut open = 0;
    let mut maintenance = false;
    for goal in [1, clients] {
        let connect_start = Instant::now();
        while open < goal {
            tokio::spawn(dashboard(
                open,
                dashboards.clone(),
                events_url.clone(),
                arrivals.clone(),
                connected.clone(),
                connecting.clone(),
            ));
            open += 1;
        }
        bench::wait_for(
            &format!("{goal} event streams open"),
            Duration::from_secs(120),
            Duration::from_millis(20),
            || async { (connected.load(Ordering::SeqCst) >= goal).then_some(()) },
        )
        .await;
        println!("{goal} dashboard(s) connected in {:.2} s", connect_start.elapsed().as_secs_f64());
        tokio::time::sleep(Duration::from_millis(500)).await;
        while received.try_recv().is_ok() {}

        for _ in 0..changes {
            maintenance = !maintenance;
            let start = Instant::now();
            let (status, answer) = http::send(
                &admin_client,
                reqwest::Method::PATCH,
                &url(&format!("/api/v1/servers/{id}")),
                Some(&json!({ "maintenance_mode": maintenance })),
            )
            .await;
            let patch_ms = start.elapsed().as_secs_f64() * 1000.0;
            assert_eq!(status, 200, "the PATCH was refused: {answer}");
            let mut latencies = Vec::with_capacity(goal);
            let deadline = start + Duration::from_secs(15);
            while latencies.len() < goal {
                let left = deadline.saturating_duration_since(Instant::now());
                match tokio::time::timeout(left, received.recv()).await {
                    Ok(Some((_, mode, at))) if mode == maintenance => {
                        latencies.push(at.duration_since(start).as_secs_f64() * 1000.0)
                    }
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => break,
                }
            }
            if latencies.len() < goal {
                println!(
                    "  only {} of {goal} dashboards got the change within 15 s",
                    latencies.len()
                );
            }
            let stats = Stats::of(&latencies);
            println!(
                "  {goal} client(s), change to maintenance {maintenance}: PATCH {} ms, arrival \
                 median {} / p95 {} / max {} ms",
                ms(Some(patch_ms)),
                ms(stats.map(|s| s.median)),
                ms(stats.map(|s| s.p95)),
                ms(stats.map(|s| s.max))
            );
            results.push(Change { clients: goal, latencies, patch_ms });
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    let mut rows = Vec::new();
    for goal in [1, clients] {
        let of: Vec<&Change> = results.iter().filter(|change| change.clients == goal).collect();
        let pooled: Vec<f64> = of.iter().flat_map(|change| change.latencies.clone()).collect();
        let last: Vec<f64> = of
            .iter()
            .filter_map(|change| change.latencies.iter().copied().reduce(f64::max))
            .collect();
        let patch: Vec<f64> = of.iter().map(|change| change.patch_ms).collect();
        let delivered: usize = of.iter().map(|change| change.latencies.len()).sum();
        let (pooled, last, patch) = (Stats::of(&pooled), Stats::of(&last), Stats::of(&patch));
        rows.push(vec![
            goal.to_string(),
            of.len().to_string(),
            format!("{delivered}/{}", goal * of.len()),
            ms(patch.map(|s| s.median)),
            ms(pooled.map(|s| s.median)),
            ms(pooled.map(|s| s.p95)),
            ms(pooled.map(|s| s.max)),
            ms(last.map(|s| s.median)),
            ms(last.map(|s| s.max)),
        ]);
    }
    table(
        "One change → every connected dashboard (ms from sending the PATCH to the event's arrival \
         at each SSE client)",
        &[
            "dashboards",
            "changes",
            "delivered",
            "PATCH round trip median",
            "arrival median",
            "arrival p95",
            "arrival max",
            "last client median",
            "last client max",
        ],
        &rows,
    );
    println!(
        "\nMethod: real `standby serve` (release build, monitor defaults, SQLite) with one \
         registered server answering its health checks from this process. Dashboards are SSE \
         clients of GET /api/v1/events (reqwest streams in this process, viewer token, one HTTP/1.1 \
         connection each), connected 32 at a time; each parses the stream and records the \
         arrival instant of the `server_changed` event for {TARGET} carrying the new \
         maintenance_mode. A change is PATCH /api/v1/servers/{{id}} toggling maintenance_mode; \
         latency is measured from just before the PATCH is sent, so it includes the request, the \
         engine's write and audit, the broadcast, the SSE encoding per client, loopback and the \
         client's parsing. The clients run on the same 2 cores as the manager, so the spread \
         across clients is partly client-side scheduling. Real dashboards also refetch what \
         changed; that refetch is not included. Load at the end: {}.",
        bench::load_average()
    );
    CLOSING.store(true, Ordering::SeqCst);
    drop(manager);
}

/// One wall-screen dashboard: opens the event stream and reports every change of the target.
async fn dashboard(
    index: usize,
    client: reqwest::Client,
    url: String,
    arrivals: mpsc::UnboundedSender<Arrival>,
    connected: Arc<AtomicUsize>,
    connecting: Arc<Semaphore>,
) {
    let permit = connecting.acquire_owned().await;
    let response = match client.get(&url).send().await {
        Ok(response) if response.status().is_success() => response,
        Ok(response) => {
            eprintln!("dashboard {index}: the event stream answered {}", response.status());
            return;
        }
        Err(error) => {
            eprintln!("dashboard {index}: cannot open the event stream: {error}");
            return;
        }
    };
    drop(permit);
    connected.fetch_add(1, Ordering::SeqCst);
    let mut stream = response.bytes_stream();
    let mut buffer: Vec<u8> = Vec::new();
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            if !CLOSING.load(Ordering::SeqCst) {
                eprintln!("dashboard {index}: the event stream broke");
            }
            return;
        };
        let at = Instant::now();
        buffer.extend_from_slice(&chunk);
        // Events end with a blank line.
        while let Some(end) = buffer.windows(2).position(|pair| pair == b"\n\n") {
            let event: Vec<u8> = buffer.drain(..end + 2).collect();
            let text = String::from_utf8_lossy(&event);
            let mut name = "";
            let mut data = String::new();
            for line in text.lines() {
                if let Some(value) = line.strip_prefix("event:") {
                    name = value.trim();
                } else if let Some(value) = line.strip_prefix("data:") {
                    data.push_str(value.trim_start());
                }
            }
            if name == "server_changed" && data.contains(&format!("\"name\":\"{TARGET}\"")) {
                let mode = data.contains("\"maintenance_mode\":true");
                if arrivals.send((index, mode, at)).is_err() {
                    return;
                }
            }
        }
    }
}
