//! Benchmark (issue 16): what watching N recorders costs the manager: its CPU time as a share of
//! one core and its RSS over a steady period, every stand-in recorder answering on its heartbeat
//! stream at the default pace (250 ms). Bounds: 1,000 recorders on SQLite ≤ 10 % of one core and
//! ≤ 100 MiB; 10,000 on PostgreSQL ≤ 1 core (0.10 core per 1,000 recorders; no RSS bound).
//!
//! Run: `cargo build --release -p server -p recorder`, then
//! `cargo bench -p server --bench monitor` (`STANDBY_BENCH_QUICK=1`: 200 recorders, 5 s;
//! `STANDBY_BENCH_RECORDERS=N` for another count; `STANDBY_BENCH_STEADY_S=S` for a steady period
//! other than 20 s; `STANDBY_BENCH_DATABASE=postgres` for a fresh database on the PostgreSQL of
//! `STANDBY_TEST_POSTGRES_URL`, by default 127.0.0.1:5432). For 10,000:
//! `STANDBY_BENCH_DATABASE=postgres STANDBY_BENCH_RECORDERS=10000 cargo bench -p server --bench
//! monitor`.
//!
//! The stand-ins are served by child processes (this binary again, [`CHILD`] set), at most
//! [`PER_CHILD`] each: one process holding 10,000 listeners and their 10,000 accepted
//! connections would not fit in an open-files limit of 20,000. The manager itself holds one
//! client connection per stand-in, plus for a while (its HTTP client keeps an idle connection
//! 30 s) the one of the stand-in's first settings read; its open files are sampled and reported.
//! The steady period begins once every stand-in is ok and its settings are in the cache.

use serde_json::json;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use testkit::bench::{self, table};
use testkit::binaries::Binary;
use testkit::{http, manager};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// Share of one core per 1,000 recorders.
const CPU_BOUND_PER_1000: f64 = 0.10;
/// RSS bound of the 1,000-recorder run on SQLite (none is stated for other runs).
const RSS_BOUND_MIB: f64 = 100.0;
/// The manager's default heartbeat, which it asks its stand-ins for.
const HEARTBEAT: Duration = Duration::from_millis(250);
/// Set in a child: serve this many stand-ins, print their addresses, stay until stdin closes.
const CHILD: &str = "STANDBY_BENCH_MONITOR_STAND_INS";
/// Stand-ins per child process: each holds a listener and up to three accepted connections.
const PER_CHILD: usize = 2000;
/// A steady period is measured in slices of this length (the manager flushes "last seen" every
/// 5 s, so each slice holds one flush).
const SLICE: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Database {
    Sqlite,
    Postgres,
}

fn main() {
    if let Some(count) = std::env::var(CHILD).ok().and_then(|count| count.parse().ok()) {
        serve_stand_ins(count);
        return;
    }
    tokio::runtime::Runtime::new().expect("a tokio runtime").block_on(bench());
}

/// The child's side: `count` stand-ins, one `http://…` line each, then `ready`; then, for each
/// line on its standard input, how many heartbeats its stand-ins have sent so far. It exits when
/// its standard input closes (the bench ended, however it ended).
fn serve_stand_ins(count: usize) {
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    runtime.block_on(async {
        use std::io::Write;
        let addresses = bench::health_responders(count).await;
        let mut out = std::io::stdout().lock();
        for address in addresses {
            writeln!(out, "{address}").expect("write an address");
        }
        writeln!(out, "ready").expect("write ready");
        out.flush().expect("flush the addresses");
        drop(out);
        let _ = tokio::task::spawn_blocking(|| {
            use std::io::BufRead;
            for _asked in std::io::stdin().lock().lines().map_while(Result::ok) {
                let mut out = std::io::stdout().lock();
                if writeln!(out, "{}", bench::heartbeats_sent()).and_then(|()| out.flush()).is_err()
                {
                    break;
                }
            }
        })
        .await;
    });
    // The stand-ins' tasks are dropped with the runtime, without waiting for their streams.
    runtime.shutdown_background();
}

/// A child process serving stand-ins.
struct StandIns {
    child: Child,
    ask: ChildStdin,
    answers: Lines<BufReader<ChildStdout>>,
}

impl StandIns {
    /// Heartbeats its stand-ins have sent so far.
    async fn heartbeats_sent(&mut self) -> u64 {
        let asked = self.ask.write_all(b"count\n").await.and(self.ask.flush().await);
        let answer = match asked {
            Ok(()) => tokio::time::timeout(Duration::from_secs(10), self.answers.next_line()).await,
            Err(error) => panic!("cannot ask a stand-in process: {error}"),
        };
        match answer {
            Ok(Ok(Some(line))) => line.trim().parse().expect("a count of heartbeats"),
            _ => panic!("a stand-in process did not say how many heartbeats it sent"),
        }
    }
}

/// Heartbeats every stand-in process has sent so far.
async fn heartbeats_sent(children: &mut [StandIns]) -> u64 {
    let mut sum = 0;
    for child in children {
        sum += child.heartbeats_sent().await;
    }
    sum
}

/// Child processes serving `count` stand-ins, and their addresses.
async fn spawn_stand_ins(count: usize) -> (Vec<StandIns>, Vec<String>) {
    let exe = std::env::current_exe().expect("the bench binary's own path");
    let mut starting = Vec::new();
    let mut left = count;
    while left > 0 {
        let here = left.min(PER_CHILD);
        left -= here;
        let mut child = Command::new(&exe)
            .env(CHILD, here.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start a stand-in process: {error}"));
        let stdout = child.stdout.take().expect("standard output is piped");
        let ask = child.stdin.take().expect("standard input is piped");
        starting.push(async move {
            let mut answers = BufReader::new(stdout).lines();
            let mut addresses = Vec::with_capacity(here);
            let read = tokio::time::timeout(Duration::from_secs(120), async {
                while let Ok(Some(line)) = answers.next_line().await {
                    if line == "ready" {
                        return true;
                    }
                    addresses.push(line);
                }
                false
            })
            .await;
            assert!(
                matches!(read, Ok(true)) && addresses.len() == here,
                "a stand-in process did not serve its {here} stand-ins ({} addresses)",
                addresses.len()
            );
            (StandIns { child, ask, answers }, addresses)
        });
    }
    let mut children = Vec::new();
    let mut addresses = Vec::with_capacity(count);
    for (child, served) in futures::future::join_all(starting).await {
        children.push(child);
        addresses.extend(served);
    }
    (children, addresses)
}

/// Open file descriptors of a process (0 once it is gone).
fn open_files(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map(|entries| entries.count()).unwrap_or(0)
}

/// The soft open-files limit of a process, from `/proc/<pid>/limits`.
fn open_files_limit(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/limits"))
        .ok()
        .and_then(|limits| {
            let line = limits.lines().find(|line| line.starts_with("Max open files"))?;
            line.split_whitespace().nth(3).map(str::to_owned)
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

async fn bench() {
    bench::require(&[Binary::Manager]);
    bench::machine_note();
    let recorders = bench::count("RECORDERS", 1000, 200);
    // Whole slices: 4 (1 in the quick mode), or `STANDBY_BENCH_STEADY_S` rounded up.
    let slice_count = bench::count("STEADY_S", 20, 5).div_ceil(SLICE.as_secs() as usize).max(1);
    let database = match std::env::var("STANDBY_BENCH_DATABASE").as_deref() {
        Ok("postgres" | "postgresql") => Database::Postgres,
        Ok("" | "sqlite") | Err(_) => Database::Sqlite,
        Ok(other) => {
            eprintln!("STANDBY_BENCH_DATABASE is sqlite (the default) or postgres, not {other}");
            std::process::exit(2);
        }
    };

    let started_at = Instant::now();
    let (children, responders) = spawn_stand_ins(recorders).await;
    println!(
        "{recorders} stand-ins served by {} process{} (at most {PER_CHILD} each) in {:.1} s",
        children.len(),
        if children.len() == 1 { "" } else { "es" },
        started_at.elapsed().as_secs_f64()
    );
    let dir = tempfile::tempdir().expect("a temporary directory");
    // Declared before the manager, so it is dropped after the manager is gone.
    let fresh = match database {
        Database::Sqlite => None,
        Database::Postgres => {
            let Some(fresh) = testkit::postgres::fresh_database("monitor_bench").await else {
                return;
            };
            Some(fresh)
        }
    };
    let database_url = match &fresh {
        Some(fresh) => fresh.url.clone(),
        None => format!("sqlite://{}", dir.path().join("standby.db").display()),
    };
    let database_name = if fresh.is_some() { "PostgreSQL" } else { "SQLite" };
    let admin = manager::create_token(&database_url, "bench-admin", "admin").await;
    let manager = manager::start(&database_url, &[], &[]).await;
    let client = http::client_with_token(&admin);
    let servers_url = manager.url("/api/v1/servers");
    let pid = manager.pid();

    // The manager's open files, sampled from registration to the end.
    let peak_files = Arc::new(AtomicUsize::new(0));
    let sampler = {
        let peak_files = peak_files.clone();
        tokio::spawn(async move {
            loop {
                peak_files.fetch_max(open_files(pid), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
    };

    let registering = Instant::now();
    let ids: Vec<i64> = {
        use futures::StreamExt;
        let (client, servers_url) = (&client, &servers_url);
        futures::stream::iter(responders.iter().enumerate())
            .map(|(i, address)| async move {
                let body = json!({ "name": format!("stand-in-{i:05}"), "address": address,
                    "kind": "recorder", "failover_enabled": true, "auto_failback": false });
                let (status, answer) =
                    http::send(client, reqwest::Method::POST, servers_url, Some(&body)).await;
                assert_eq!(status, 201, "registering stand-in {i}: {answer}");
                answer["id"].as_i64().expect("a new server has an id")
            })
            .buffer_unordered(16)
            .collect()
            .await
    };
    println!(
        "registered {recorders} stand-in recorders in {:.1} s",
        registering.elapsed().as_secs_f64()
    );
    let every = if recorders > 2000 { Duration::from_secs(1) } else { Duration::from_millis(200) };
    bench::wait_for("every stand-in ok", Duration::from_secs(300), every, || {
        let (client, url) = (&client, &servers_url);
        async move {
            let servers = http::get_json(client, url).await?;
            let ok = servers.as_array()?.iter().filter(|s| s["state"] == "ok").count();
            (ok == recorders).then_some(())
        }
    })
    .await;
    println!(
        "every stand-in ok {:.1} s after registration began",
        registering.elapsed().as_secs_f64()
    );
    // The first heartbeat of each asks for its settings bundle: that work is over, too.
    {
        use futures::StreamExt;
        let client = &client;
        let manager = &manager;
        futures::stream::iter(&ids)
            .map(|id| async move {
                let url = manager.url(&format!("/api/v1/servers/{id}/settings"));
                let what = format!("stand-in {id}'s settings in the cache");
                bench::wait_for(
                    &what,
                    Duration::from_secs(300),
                    Duration::from_millis(200),
                    || http::get_json(client, &url),
                )
                .await;
            })
            .buffer_unordered(16)
            .collect::<Vec<()>>()
            .await;
    }
    println!(
        "every stand-in's settings cached {:.1} s after registration began",
        registering.elapsed().as_secs_f64()
    );
    // Registration's own work is over before measuring.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss_start_mib = bench::status_kib(pid, "VmRSS") as f64 / 1024.0;

    let mut children = children;
    let child_pids: Vec<u32> = children.iter().filter_map(|child| child.child.id()).collect();
    let beats_before = heartbeats_sent(&mut children).await;
    let stand_ins_cpu = || child_pids.iter().map(|&pid| bench::cpu_seconds(pid)).sum::<f64>();
    let (cpu_before, stand_ins_before, measuring) =
        (bench::cpu_seconds(pid), stand_ins_cpu(), Instant::now());
    let mut slices = Vec::new();
    let mut slice_start = (cpu_before, Instant::now());
    for _ in 0..slice_count {
        tokio::time::sleep(SLICE).await;
        let now = (bench::cpu_seconds(pid), Instant::now());
        slices.push((now.0 - slice_start.0) / (now.1 - slice_start.1).as_secs_f64());
        slice_start = now;
    }
    let elapsed = measuring.elapsed().as_secs_f64();
    let share = (bench::cpu_seconds(pid) - cpu_before) / elapsed;
    let stand_ins_share = (stand_ins_cpu() - stand_ins_before) / elapsed;
    let beats_rate = (heartbeats_sent(&mut children).await - beats_before) as f64 / elapsed;
    // What the manager asks for: one heartbeat per stand-in every HEARTBEAT.
    let beats_asked = recorders as f64 / HEARTBEAT.as_secs_f64();
    let load_after = bench::load_average();
    let rss_mib = bench::status_kib(pid, "VmRSS") as f64 / 1024.0;
    let hwm_mib = bench::status_kib(pid, "VmHWM") as f64 / 1024.0;
    let threads = bench::status_kib(pid, "Threads");
    let files_now = open_files(pid);
    sampler.abort();
    let servers = http::get_json(&client, &servers_url).await.unwrap_or_default();
    let ok = servers.as_array().map(|all| all.iter().filter(|s| s["state"] == "ok").count());

    // The CPU bound scales with the count: 0.10 core per 1,000 recorders.
    let cpu_bound = CPU_BOUND_PER_1000 * recorders as f64 / 1000.0;
    // The RSS bound is stated for 1,000 recorders on SQLite (and holds for fewer).
    let rss_bound = (database == Database::Sqlite && recorders <= 1000).then_some(RSS_BOUND_MIB);
    let (low, high) = slices
        .iter()
        .fold((f64::MAX, f64::MIN), |(low, high), &slice| (low.min(slice), high.max(slice)));
    let rows = vec![
        vec![
            "CPU, share of one core".into(),
            format!("{:.1} %", share * 100.0),
            format!("{:.0} %", cpu_bound * 100.0),
            format!("{:.2}", share / cpu_bound),
        ],
        vec![
            format!("  its {} s slices", SLICE.as_secs()),
            format!("{:.1}–{:.1} %", low * 100.0, high * 100.0),
            String::new(),
            format!("{:.2}–{:.2}", low / cpu_bound, high / cpu_bound),
        ],
        vec![
            "heartbeats the stand-ins sent".into(),
            format!("{beats_rate:.0} /s"),
            format!("{beats_asked:.0} /s asked"),
            format!("{:.2}", beats_rate / beats_asked),
        ],
        vec![
            "RSS at the start of it".into(),
            format!("{rss_start_mib:.0} MiB"),
            String::new(),
            String::new(),
        ],
        vec![
            "RSS at the end (peak VmHWM)".into(),
            format!("{rss_mib:.0} MiB ({hwm_mib:.0})"),
            rss_bound.map_or_else(|| "–".into(), |bound| format!("{bound:.0} MiB")),
            rss_bound.map_or_else(|| "–".into(), |bound| format!("{:.2}", rss_mib / bound)),
        ],
        vec![
            "open files at the end (peak)".into(),
            format!("{files_now} ({})", peak_files.load(Ordering::Relaxed)),
            format!("limit {}", open_files_limit(pid)),
            String::new(),
        ],
    ];
    table(
        &format!(
            "Watching {recorders} recorders (heartbeat 250 ms, {database_name}), {elapsed:.0} s \
             steady, {} still ok",
            ok.unwrap_or(0)
        ),
        &["figure", "measured", "bound", "ratio"],
        &rows,
    );
    println!(
        "manager threads {threads}; the stand-in processes used {:.0} % of one core meanwhile \
         (a ratio of heartbeats well under 1: a busy machine slowed them, and the manager had \
         less to do); load average after {load_after}",
        stand_ins_share * 100.0
    );
    drop(manager);
    drop(children);
    drop(fresh);
}
