//! Benchmark (issue 8): server-render time of the failover log page with 10,000 entries in the
//! log, against the same manager serving a static HTML file of the same size (ratio measured in
//! the same run), and REST latency of the failover log with the large log.
//!
//! Run: `CARGO_TARGET_DIR=/work/target-bench cargo build --release -p server -p recorder` then
//! `CARGO_TARGET_DIR=/work/target-bench cargo bench -p server --bench pages`.
//! `STANDBY_BENCH_QUICK=1` for a smoke run; `STANDBY_BENCH_REQUESTS=N` requests per target;
//! `STANDBY_BENCH_ENTRIES=N` log entries (default 10000).

use chrono::{Duration as ChronoDuration, Utc};
use sqlx::Connection;
use sqlx::sqlite::SqliteConnection;
use std::time::{Duration, Instant};
use testkit::bench::{self, Stats, ms, table};
use testkit::binaries::Binary;
use testkit::{http, manager};

const RECORDERS: usize = 40;
const FAILOVER_SERVERS: usize = 4;
const STATIC_FILE: &str = "failover-log-static.html";

/// One connection mode's samples for a target.
#[derive(Default)]
struct Samples {
    ttfb: Vec<f64>,
    total: Vec<f64>,
}

struct Target {
    label: String,
    path: String,
    /// A new TCP connection per request (what the page costs to make and send).
    fresh: Samples,
    /// One keep-alive connection, as a browser reuses it.
    kept: Samples,
    bytes: usize,
    status: u16,
}

impl Target {
    fn new(label: &str, path: &str) -> Target {
        Target {
            label: label.to_owned(),
            path: path.to_owned(),
            fresh: Samples::default(),
            kept: Samples::default(),
            bytes: 0,
            status: 0,
        }
    }
}

#[tokio::main]
async fn main() {
    bench::require(&[Binary::Manager]);
    bench::machine_note();
    let entries = bench::count("ENTRIES", 10_000, 10_000);
    let requests = bench::count("REQUESTS", 100, 15);

    let dir = tempfile::tempdir().expect("a temporary directory");
    let database_url = format!("sqlite://{}", dir.path().join("standby.db").display());
    // Creating the token creates the database and applies the migrations.
    let token = manager::create_token(&database_url, "bench-admin", "admin").await;
    let filled = Instant::now();
    fill_log(&database_url, entries).await;
    println!(
        "failover log filled with {entries} entries over {RECORDERS} recorders and \
         {FAILOVER_SERVERS} failover servers in {:.1} s (direct SQL insert before the manager starts)",
        filled.elapsed().as_secs_f64()
    );

    let site_root = dir.path().join("site");
    std::fs::create_dir_all(&site_root).expect("create the site root");
    let site_root_arg = site_root.display().to_string();
    let manager = manager::start(&database_url, &["--site-root", &site_root_arg], &[]).await;
    let client = http::client_with_token(&token);
    let url = |path: &str| manager.url(path);

    // The rendered page, saved as the static file of the same size.
    let page = client.get(url("/failovers")).send().await.expect("GET /failovers answered");
    let status = page.status();
    let html = page.text().await.expect("the page's body");
    if !status.is_success() || !html.contains("Finalized Failovers") {
        eprintln!(
            "GET /failovers answered {status} without the failover log ({} bytes); cannot bench it",
            html.len()
        );
        std::process::exit(1);
    }
    std::fs::write(site_root.join(STATIC_FILE), &html).expect("write the static copy");
    println!(
        "GET /failovers renders {} bytes; the static file {STATIC_FILE} has the same bytes",
        html.len()
    );

    let mut pages = vec![
        Target::new("SSR /failovers (first page)", "/failovers"),
        Target::new(&format!("static {STATIC_FILE} (same size)"), &format!("/{STATIC_FILE}")),
        Target::new("SSR /failovers?offset=9900 (a deep page)", "/failovers?offset=9900"),
        Target::new("SSR /failovers?q=rec-007 (search)", "/failovers?q=rec-007"),
        Target::new("SSR /failovers?status=failed (filter)", "/failovers?status=failed"),
    ];
    let mut apis = vec![
        Target::new("GET /api/v1/failovers?state=finalized", "/api/v1/failovers?state=finalized"),
        Target::new(
            "GET /api/v1/failovers?state=finalized&limit=1000",
            "/api/v1/failovers?state=finalized&limit=1000",
        ),
        Target::new(
            "GET /api/v1/failovers?state=finalized&offset=9800",
            "/api/v1/failovers?state=finalized&offset=9800",
        ),
        Target::new("GET /api/v1/failovers?state=active", "/api/v1/failovers?state=active"),
        Target::new("GET /healthz (floor: no auth, no work)", "/healthz"),
    ];

    // Without an idle pool, every request opens its own connection.
    let fresh_client = reqwest::Client::builder()
        .default_headers({
            let mut headers = reqwest::header::HeaderMap::new();
            let value = format!("Bearer {token}").parse().expect("a header value");
            headers.insert(reqwest::header::AUTHORIZATION, value);
            headers
        })
        .pool_max_idle_per_host(0)
        .build()
        .expect("an HTTP client");

    // Warm-up, then the targets in turn within each repetition, so drift hits them alike.
    for target in pages.iter_mut().chain(apis.iter_mut()) {
        for _ in 0..3 {
            measure(&client, &url(&target.path)).await;
            measure(&fresh_client, &url(&target.path)).await;
        }
    }
    let started = Instant::now();
    for _ in 0..requests {
        for target in pages.iter_mut().chain(apis.iter_mut()) {
            for (http, samples) in [(&fresh_client, &mut target.fresh), (&client, &mut target.kept)]
            {
                let (status, ttfb, total, bytes) = measure(http, &url(&target.path)).await;
                target.status = status;
                target.bytes = bytes;
                samples.ttfb.push(ttfb);
                samples.total.push(total);
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();

    let static_fresh = Stats::of(&pages[1].fresh.total).map(|s| s.median);
    let static_kept = Stats::of(&pages[1].kept.total).map(|s| s.median);
    let ratio = |value: Option<Stats>, base: Option<f64>| match (value, base) {
        (Some(value), Some(base)) if base > 0.0 => format!("{:.1}×", value.median / base),
        _ => "–".to_owned(),
    };
    let rows = |targets: &[Target]| -> Vec<Vec<String>> {
        targets
            .iter()
            .map(|target| {
                let fresh = Stats::of(&target.fresh.total);
                let fresh_ttfb = Stats::of(&target.fresh.ttfb);
                let kept = Stats::of(&target.kept.total);
                vec![
                    target.label.clone(),
                    target.status.to_string(),
                    target.bytes.to_string(),
                    fresh.map_or(0, |s| s.n).to_string(),
                    ms(fresh_ttfb.map(|s| s.median)),
                    ms(fresh.map(|s| s.median)),
                    ms(fresh.map(|s| s.p95)),
                    ratio(fresh, static_fresh),
                    ms(kept.map(|s| s.median)),
                    ms(kept.map(|s| s.p95)),
                    ratio(kept, static_kept),
                ]
            })
            .collect()
    };
    let headers = [
        "request",
        "status",
        "bytes",
        "n",
        "new conn: first byte median",
        "new conn: total median",
        "new conn: total p95",
        "new conn: ÷ static",
        "keep-alive: total median",
        "keep-alive: total p95",
        "keep-alive: ÷ static",
    ];
    table(
        &format!(
            "Failover log page with {entries} entries (ms, sequential requests, bearer token)"
        ),
        &headers,
        &rows(&pages),
    );
    table(&format!("REST failover log with {entries} entries (ms)"), &headers, &rows(&apis));
    if let (Some(page), Some(static_file)) =
        (Stats::of(&pages[0].fresh.total), Stats::of(&pages[1].fresh.total))
    {
        println!(
            "\nRatio SSR page / static file of the same size (medians, same run, new connection \
             per request): {:.1}× ({} ms vs {} ms)",
            page.median / static_file.median,
            ms(Some(page.median)),
            ms(Some(static_file.median))
        );
    }
    println!(
        "\nMethod: real `standby serve` (release build) on an SQLite file holding {entries} \
         failover log entries (direct SQL insert: {RECORDERS} recorders, {FAILOVER_SERVERS} \
         failover servers, 3 active entries, every 50th failed, the rest finalized with failback \
         and copy done). The static file is the rendered page's own bytes in the manager's site \
         root (--site-root), served by the same process through the same middleware (auth with \
         the same bearer token, security headers). Each repetition requests every target once \
         on a new connection and once on a kept-alive one, in turn, one request at a time; \
         {requests} repetitions after 3 warm-up requests per target and mode, {seconds:.0} s in \
         all. `first byte` is the time to the response headers (the page streams: headers leave \
         before the body is rendered); `total` is to the last byte of the body. The page shows \
         25 entries per page (pagination), the REST API 100 by default (limit up to 1000). \
         The manager sets TCP_NODELAY on accepted connections (serve-limits), so a streamed \
         page's small last chunk does not wait for the client's delayed ACK on a kept-alive \
         connection. Load at the end: {}.",
        bench::load_average()
    );
    drop(manager);
}

/// One GET: status, time to headers, time to the last byte (ms), body size.
async fn measure(client: &reqwest::Client, url: &str) -> (u16, f64, f64, usize) {
    let start = Instant::now();
    let response = client
        .get(url)
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .unwrap_or_else(|error| panic!("GET {url} failed: {error}"));
    let ttfb = start.elapsed().as_secs_f64() * 1000.0;
    let status = response.status().as_u16();
    let body = response.bytes().await.unwrap_or_else(|error| panic!("GET {url} body: {error}"));
    let total = start.elapsed().as_secs_f64() * 1000.0;
    (status, ttfb, total, body.len())
}

/// Servers and `entries` failover log entries, straight into the database in one transaction.
async fn fill_log(database_url: &str, entries: usize) {
    let mut connection =
        SqliteConnection::connect(database_url).await.expect("open the SQLite database");
    let mut tx = connection.begin().await.expect("begin a transaction");
    let now = Utc::now();
    // Nothing listens on the discard port of loopback: the monitor finds these unreachable,
    // and with failover monitoring off for them it leaves the log alone.
    let address = "http://127.0.0.1:9";
    let mut recorders = Vec::new();
    let mut failover_servers = Vec::new();
    for (kind, count, ids) in [
        ("recorder", RECORDERS, &mut recorders),
        ("failover", FAILOVER_SERVERS, &mut failover_servers),
    ] {
        for i in 1..=count {
            let name = if kind == "recorder" { format!("rec-{i:03}") } else { format!("fo-{i}") };
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO servers (name, address, kind, state, failover_enabled, auto_failback, \
                 maintenance_mode, created_at) VALUES ($1, $2, $3, 'unreachable', FALSE, FALSE, \
                 FALSE, $4) RETURNING id",
            )
            .bind(&name)
            .bind(address)
            .bind(kind)
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .expect("insert a server");
            ids.push(id);
        }
    }
    let first = now - ChronoDuration::minutes(7 * entries as i64);
    for i in 0..entries {
        let recorder = recorders[i % RECORDERS];
        let failover_server = failover_servers[i % FAILOVER_SERVERS];
        let started = first + ChronoDuration::minutes(7 * i as i64);
        let performed = started + ChronoDuration::milliseconds(1800 + (i % 700) as i64);
        let active = i + 3 >= entries; // the newest three are still active
        let failed = !active && i % 50 == 49;
        if failed {
            sqlx::query(
                "INSERT INTO failovers (recorder_id, failover_server_id, status, \
                 failover_started_at, error_code, error) VALUES ($1, NULL, 'failed', $2, \
                 'no_failover_server', 'No failover server is free for this recorder.')",
            )
            .bind(recorder)
            .bind(started)
            .execute(&mut *tx)
            .await
            .expect("insert a failed entry");
        } else if active {
            sqlx::query(
                "INSERT INTO failovers (recorder_id, failover_server_id, status, \
                 failover_started_at, failover_finished_at) VALUES ($1, $2, 'active', $3, $4)",
            )
            .bind(recorder)
            .bind(failover_server)
            .bind(started)
            .bind(performed)
            .execute(&mut *tx)
            .await
            .expect("insert an active entry");
        } else {
            let back = performed + ChronoDuration::minutes(30 + (i % 240) as i64);
            let manual = i % 3 == 0;
            sqlx::query(
                "INSERT INTO failovers (recorder_id, failover_server_id, status, \
                 failover_started_at, failover_finished_at, failback_started_at, \
                 failback_finished_at, failback_trigger, failback_by, copy_status) \
                 VALUES ($1, $2, 'finalized', $3, $4, $5, $6, $7, $8, 'done')",
            )
            .bind(recorder)
            .bind(failover_server)
            .bind(started)
            .bind(performed)
            .bind(back)
            .bind(back + ChronoDuration::milliseconds(900 + (i % 400) as i64))
            .bind(if manual { "manual" } else { "automatic" })
            .bind(if manual { "operator" } else { "system" })
            .execute(&mut *tx)
            .await
            .expect("insert a finalized entry");
        }
    }
    tx.commit().await.expect("commit the failover log");
}
