//! Benchmarks of the system change notifications, `GET /api/v1/events`, at dashboard scale.
//!
//! **One change** (issue 8): time for one change to reach 500 connected dashboards, i.e. 500
//! server-sent-event clients. Each change is a `PATCH /api/v1/servers/{id}` toggling
//! `maintenance_mode`, which publishes a `server_changed` event; every client notes when the event
//! arrives. Reported: arrival latency across clients (median, p95, max) per change and pooled,
//! with 1 client as the baseline.
//!
//! **Flapping** (issue 16, "events carry what changed"): 500 dashboards connected while 50 of 100
//! stand-in recorders flap (each dies, its connections closed and new ones refused, for 1–2 s,
//! then answers again for 1–2 s, for 20 s). Each dashboard keeps its own map id → state from the
//! list it loaded and the `server_changed` events it applies in place (a `resync` reloads the
//! list). Bounds: the manager under one core; every dashboard right within 1 s of the truth
//! (`GET /api/v1/servers`, polled every 100 ms) changing. Reported as ratios: the manager's CPU
//! share of one core and RSS over the flapping, the time from a change of the truth until every
//! dashboard agrees (p95, max), dashboards ever wrong for longer than 1 s, events delivered.
//!
//! Run: `cargo build --release -p server -p recorder` then `cargo bench -p server --bench
//! events`. `STANDBY_BENCH_QUICK=1` for a smoke run (flapping: 50 dashboards, 10 of 20 flapping,
//! 5 s); `STANDBY_BENCH_SCENARIO=change|flapping` for one scenario only;
//! `STANDBY_BENCH_CLIENTS=N`, `STANDBY_BENCH_CHANGES=N`; for the flapping,
//! `STANDBY_BENCH_RECORDERS=N`, `STANDBY_BENCH_FLAPPING=N`, `STANDBY_BENCH_SECONDS=N`.

use futures::StreamExt;
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
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
    let scenario = std::env::var("STANDBY_BENCH_SCENARIO").unwrap_or_default();
    match scenario.as_str() {
        "" => {
            one_change().await;
            flapping().await;
        }
        "change" => one_change().await,
        "flapping" => flapping().await,
        other => {
            eprintln!("STANDBY_BENCH_SCENARIO is change or flapping (unset: both), not {other}");
            std::process::exit(2);
        }
    }
}

/// 1, then 500 dashboards; each change one PATCH, its event's arrival timed at every dashboard.
async fn one_change() {
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
        while let Some((name, data)) = next_event(&mut buffer) {
            if name == "server_changed" && data.contains(&format!("\"name\":\"{TARGET}\"")) {
                let mode = data.contains("\"maintenance_mode\":true");
                if arrivals.send((index, mode, at)).is_err() {
                    return;
                }
            }
        }
    }
}

/// The next whole event in what a stream delivered so far, taken out of `buffer`: its name and
/// its data (events end with a blank line; a comment, like the keep-alive, has no name).
fn next_event(buffer: &mut Vec<u8>) -> Option<(String, String)> {
    let end = buffer.windows(2).position(|pair| pair == b"\n\n")?;
    let event: Vec<u8> = buffer.drain(..end + 2).collect();
    let text = String::from_utf8_lossy(&event);
    let mut name = String::new();
    let mut data = String::new();
    for line in text.lines() {
        if let Some(value) = line.strip_prefix("event:") {
            name = value.trim().to_owned();
        } else if let Some(value) = line.strip_prefix("data:") {
            data.push_str(value.trim_start());
        }
    }
    Some((name, data))
}

// Flapping (issue 16): 500 dashboards keeping their own picture while 50 recorders flap.

/// The manager's CPU over the flapping: under one core.
const CPU_BOUND: f64 = 1.0;
/// Every dashboard right within this long of the truth changing.
const AGREE_BOUND: Duration = Duration::from_secs(1);
/// How often the truth (`GET /api/v1/servers`) is read and every dashboard compared with it.
const POLL: Duration = Duration::from_millis(100);
/// How often the manager's CPU time is read during the flapping.
const CPU_SLICE: Duration = Duration::from_secs(1);
/// Not in a map (or not in the list).
const ABSENT: u8 = u8::MAX;
/// The states a dashboard tells apart; anything else is one more value.
const STATES: [&str; 5] = ["ok", "unreachable", "broken", "standby", "acting"];

/// Server id → state, as a dashboard shows it or the list says it.
type States = HashMap<i64, u8>;
/// One server's values over time, in time order.
type Steps = Vec<(Instant, u8)>;

fn state_code(state: &str) -> u8 {
    STATES.iter().position(|known| *known == state).map_or(ABSENT - 1, |i| i as u8)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}

/// What a dashboard reads of a server (the rest of the object is ignored).
#[derive(serde::Deserialize)]
struct Brief {
    id: i64,
    state: String,
}

#[derive(serde::Deserialize)]
struct ServerChanged {
    server: Brief,
}

#[derive(serde::Deserialize)]
struct ServerRemoved {
    id: i64,
}

/// `GET /api/v1/servers` as id → state; `None` when it fails.
async fn list(client: &reqwest::Client, url: &str) -> Option<States> {
    let response = client.get(url).timeout(Duration::from_secs(30)).send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    let servers: Vec<Brief> = response.json().await.ok()?;
    Some(servers.into_iter().map(|server| (server.id, state_code(&server.state))).collect())
}

/// Whether a stand-in is down, and a handle to each connection it accepted while up.
#[derive(Default)]
struct Switch {
    state: Mutex<(bool, Vec<std::net::TcpStream>)>,
}

impl Switch {
    /// Dies: every open connection is closed (FIN, as the kernel does for a killed process) and
    /// new ones are closed as soon as they are accepted.
    fn down(&self) {
        let mut state = lock(&self.state);
        state.0 = true;
        for connection in state.1.drain(..) {
            let _ = connection.shutdown(std::net::Shutdown::Both);
        }
    }

    fn up(&self) {
        lock(&self.state).0 = false;
    }

    /// A connection just accepted: served while up (its handle kept), closed at once while down.
    fn admit(&self, connection: tokio::net::TcpStream) -> Option<tokio::net::TcpStream> {
        use std::os::fd::AsFd;
        let mut state = lock(&self.state);
        if state.0 {
            return None;
        }
        let handle = connection.as_fd().try_clone_to_owned().ok()?;
        state.1.push(std::net::TcpStream::from(handle));
        Some(connection)
    }
}

/// A loopback listener whose stand-in can die and come back (see [`Switch`]). Its port stays
/// bound while down, so nothing else can take it: a reconnection reaches it and is closed
/// unanswered, which the manager's watcher takes as the refusal a closed port would give.
struct SwitchedListener {
    listener: tokio::net::TcpListener,
    switch: Arc<Switch>,
}

impl axum::serve::Listener for SwitchedListener {
    type Io = tokio::net::TcpStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.listener.accept().await {
                Ok((connection, address)) => {
                    if let Some(connection) = self.switch.admit(connection) {
                        return (connection, address);
                    }
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.listener.local_addr()
    }
}

/// A stand-in recorder that can flap: [`bench::stand_in_routes`] (health, heartbeat stream,
/// settings, as every stand-in answers) on a [`SwitchedListener`]. Returns its address and its switch.
async fn flapping_stand_in(name: &str) -> (String, Arc<Switch>) {
    let app = bench::stand_in_routes(name);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port for a flapping stand-in");
    let address = listener.local_addr().expect("a bound address");
    let switch = Arc::new(Switch::default());
    let listener = SwitchedListener { listener, switch: switch.clone() };
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            eprintln!("flapping stand-in {address} stopped: {error}");
        }
    });
    (format!("http://{address}"), switch)
}

/// A few random numbers without a random crate (xorshift).
struct Random(u64);

impl Random {
    fn seeded(index: usize) -> Random {
        let seed = bench::jitter(1 << 32) ^ (index as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        Random(seed.max(1))
    }

    fn millis(&mut self, from: u64, to: u64) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        Duration::from_millis(from + self.0 % (to - from).max(1))
    }
}

/// Sleeps `pause`, but not past `deadline`.
async fn sleep_before(pause: Duration, deadline: Instant) {
    let until = (Instant::now() + pause).min(deadline);
    tokio::time::sleep_until(tokio::time::Instant::from_std(until)).await;
}

/// One stand-in flapping until `deadline`: first death within 2 s, then down 1–2 s, up 1–2 s.
/// It is up when this returns; returns when it died (false) and came back (true).
async fn flap(switch: Arc<Switch>, index: usize, deadline: Instant) -> Vec<(Instant, bool)> {
    let mut random = Random::seeded(index);
    let mut flips = Vec::new();
    sleep_before(random.millis(0, 2000), deadline).await;
    while Instant::now() < deadline {
        flips.push((Instant::now(), false));
        switch.down();
        sleep_before(random.millis(1000, 2000), deadline).await;
        flips.push((Instant::now(), true));
        switch.up();
        sleep_before(random.millis(1000, 2000), deadline).await;
    }
    if flips.last().is_some_and(|(_, up)| !up) {
        flips.push((Instant::now(), true));
    }
    switch.up();
    flips
}

/// What one dashboard shows, and how it got there.
#[derive(Default)]
struct View {
    states: States,
    /// Every value put in `states`: when, which server, which state ([`ABSENT`]: removed).
    timeline: Vec<(Instant, i64, u8)>,
    /// Since when each server has shown its present value.
    since: HashMap<i64, Instant>,
    /// `server_changed` events applied.
    applied: usize,
    resyncs: usize,
    broke: bool,
}

impl View {
    fn set(&mut self, at: Instant, id: i64, state: u8) {
        let before =
            if state == ABSENT { self.states.remove(&id) } else { self.states.insert(id, state) };
        if before.unwrap_or(ABSENT) != state {
            self.since.insert(id, at);
        }
        self.timeline.push((at, id, state));
    }

    /// Its timeline split by server.
    fn per_server(&self) -> HashMap<i64, Steps> {
        let mut steps: HashMap<i64, Steps> = HashMap::new();
        for &(at, id, state) in &self.timeline {
            steps.entry(id).or_default().push((at, state));
        }
        steps
    }

    /// The whole list, as a page loads it.
    fn load(&mut self, at: Instant, list: States) {
        let gone: Vec<i64> =
            self.states.keys().filter(|id| !list.contains_key(id)).copied().collect();
        for id in gone {
            self.set(at, id, ABSENT);
        }
        for (id, state) in list {
            self.set(at, id, state);
        }
    }
}

/// What the dashboards share.
struct Wall {
    /// With the viewer token; one connection per stream.
    client: reqwest::Client,
    events_url: String,
    servers_url: String,
    /// Streams open and lists loaded.
    connected: AtomicUsize,
    connecting: Semaphore,
    /// The bench is over: a broken stream is expected.
    ending: AtomicBool,
}

/// One dashboard: opens the event stream, loads the list, then applies every `server_changed`
/// (and `server_removed`) to its own map in place; a `resync` loads the list again.
async fn wall_screen(index: usize, wall: Arc<Wall>, view: Arc<Mutex<View>>) {
    let permit = wall.connecting.acquire().await;
    let response = match wall.client.get(&wall.events_url).send().await {
        Ok(response) if response.status().is_success() => response,
        Ok(response) => {
            eprintln!("dashboard {index}: the event stream answered {}", response.status());
            lock(&view).broke = true;
            return;
        }
        Err(error) => {
            eprintln!("dashboard {index}: cannot open the event stream: {error}");
            lock(&view).broke = true;
            return;
        }
    };
    // Subscribed before the list is read, so no change falls between the two.
    let Some(servers) = list(&wall.client, &wall.servers_url).await else {
        eprintln!("dashboard {index}: cannot load the servers");
        lock(&view).broke = true;
        return;
    };
    lock(&view).load(Instant::now(), servers);
    drop(permit);
    wall.connected.fetch_add(1, Ordering::SeqCst);
    let mut stream = response.bytes_stream();
    let mut buffer: Vec<u8> = Vec::new();
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            if !wall.ending.load(Ordering::SeqCst) {
                eprintln!("dashboard {index}: the event stream broke");
            }
            lock(&view).broke = true;
            return;
        };
        let at = Instant::now();
        buffer.extend_from_slice(&chunk);
        while let Some((name, data)) = next_event(&mut buffer) {
            match name.as_str() {
                "server_changed" => match serde_json::from_str::<ServerChanged>(&data) {
                    Ok(ServerChanged { server }) => {
                        let mut view = lock(&view);
                        view.applied += 1;
                        view.set(at, server.id, state_code(&server.state));
                    }
                    Err(error) => {
                        eprintln!("dashboard {index}: unreadable server_changed: {error}")
                    }
                },
                "server_removed" => {
                    if let Ok(ServerRemoved { id }) = serde_json::from_str(&data) {
                        lock(&view).set(at, id, ABSENT);
                    }
                }
                "resync" => {
                    lock(&view).resyncs += 1;
                    if let Some(servers) = list(&wall.client, &wall.servers_url).await {
                        lock(&view).load(Instant::now(), servers);
                    }
                }
                "signed_out" => {
                    eprintln!("dashboard {index}: signed out");
                    lock(&view).broke = true;
                    return;
                }
                _ => {}
            }
        }
    }
}

/// One reading of the truth.
struct Poll {
    sent: Instant,
    received: Instant,
    truth: States,
    /// Dashboards whose map differed from it just after it was received.
    disagreeing: usize,
    /// Where: which dashboard, which server, since when it showed what it showed.
    mismatched: Vec<(usize, i64, Option<Instant>)>,
}

/// Reads the truth every [`POLL`] and compares every dashboard with it, until `stop`.
async fn watch_truth(
    client: reqwest::Client,
    url: String,
    views: Arc<Vec<Arc<Mutex<View>>>>,
    polls: Arc<Mutex<Vec<Poll>>>,
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Ordering::SeqCst) {
        let sent = Instant::now();
        if let Some(truth) = list(&client, &url).await {
            let received = Instant::now();
            let (mut disagreeing, mut mismatched) = (0, Vec::new());
            for (index, view) in views.iter().enumerate() {
                let view = lock(view);
                if view.states == truth {
                    continue;
                }
                disagreeing += 1;
                let ids = truth.keys().chain(view.states.keys());
                let wrong = ids.filter(|id| view.states.get(id) != truth.get(id));
                mismatched.extend(wrong.map(|id| (index, *id, view.since.get(id).copied())));
            }
            lock(&polls).push(Poll { sent, received, truth, disagreeing, mismatched });
        }
        tokio::time::sleep_until(tokio::time::Instant::from_std(sent + POLL)).await;
    }
}

/// The value of `steps` at `at` ([`ABSENT`] before the first).
fn value_at(steps: &[(Instant, u8)], at: Instant) -> u8 {
    match steps.partition_point(|(when, _)| *when <= at) {
        0 => ABSENT,
        after => steps[after - 1].1,
    }
}

/// The longest time within `from..to` for which `shown` differed from `truth`.
fn longest_disagreement(
    truth: &[(Instant, u8)],
    shown: &[(Instant, u8)],
    from: Instant,
    to: Instant,
) -> Duration {
    let mut cuts: Vec<Instant> = truth
        .iter()
        .chain(shown)
        .map(|(at, _)| *at)
        .filter(|at| (from..to).contains(at))
        .chain([from, to])
        .collect();
    cuts.sort();
    cuts.dedup();
    let mut longest = Duration::ZERO;
    let mut wrong_since: Option<Instant> = None;
    for pair in cuts.windows(2) {
        if value_at(truth, pair[0]) == value_at(shown, pair[0]) {
            wrong_since = None;
        } else {
            let since = *wrong_since.get_or_insert(pair[0]);
            longest = longest.max(pair[1] - since);
        }
    }
    longest
}

/// How the dashboards followed the truth.
struct Agreement {
    /// Changes of the truth seen by the polls.
    changes: usize,
    /// Per change every dashboard agreed with before the next: change → the last one agreeing.
    lags_ms: Vec<f64>,
    /// The same from the first dashboard that showed the change (the spread across dashboards).
    spreads_ms: Vec<f64>,
    /// Changes some dashboard never showed before the truth changed again.
    missed: usize,
    /// What each of those was.
    notes: Vec<String>,
    /// Per dashboard, the longest it showed any server differently from the truth.
    longest: Vec<Duration>,
}

/// The truth as a step function per server, from the polls. A change between two polls is
/// placed at the moment the earlier one was sent: the earliest it can have happened (the
/// earlier poll still read the old state), so dashboards are judged strictly — by up to one
/// polling period plus a round trip more than they deserve.
fn agreement(polls: &[Poll], shown: &[HashMap<i64, Steps>]) -> Agreement {
    let (Some(first), Some(last)) = (polls.first(), polls.last()) else {
        return Agreement {
            changes: 0,
            lags_ms: vec![],
            spreads_ms: vec![],
            missed: 0,
            notes: vec![],
            longest: vec![],
        };
    };
    let (from, to) = (first.received, last.received);
    let mut truth: HashMap<i64, Steps> =
        first.truth.iter().map(|(&id, &state)| (id, vec![(from, state)])).collect();
    // The latest each step can have happened: when the poll that first showed it came back.
    let mut latest: HashMap<i64, Vec<Instant>> =
        first.truth.keys().map(|&id| (id, vec![from])).collect();
    for pair in polls.windows(2) {
        let ids: HashSet<i64> = pair[0].truth.keys().chain(pair[1].truth.keys()).copied().collect();
        for id in ids {
            let now = pair[1].truth.get(&id).copied().unwrap_or(ABSENT);
            if pair[0].truth.get(&id).copied().unwrap_or(ABSENT) != now {
                truth.entry(id).or_default().push((pair[0].sent, now));
                latest.entry(id).or_default().push(pair[1].received);
            }
        }
    }
    let none: Steps = Vec::new();
    let mut result = Agreement {
        changes: 0,
        lags_ms: vec![],
        spreads_ms: vec![],
        missed: 0,
        notes: vec![],
        longest: vec![Duration::ZERO; shown.len()],
    };
    for (id, steps) in &truth {
        for (i, &(at, state)) in steps.iter().enumerate().skip(1) {
            result.changes += 1;
            // A dashboard showing the change before the next one may have happened has shown it.
            let until = latest[id].get(i + 1).copied().unwrap_or(to);
            // When each dashboard first showed the new state (at once if it already did).
            let agreed: Vec<Option<Instant>> = shown
                .iter()
                .map(|mine| {
                    let mine = mine.get(id).unwrap_or(&none);
                    if value_at(mine, at) == state {
                        return Some(at);
                    }
                    let after = mine.partition_point(|(when, _)| *when <= at);
                    mine[after..]
                        .iter()
                        .take_while(|(when, _)| *when < until)
                        .find(|(_, value)| *value == state)
                        .map(|(when, _)| *when)
                })
                .collect();
            match agreed.iter().copied().collect::<Option<Vec<Instant>>>() {
                Some(agreed) => {
                    let (Some(&last), first) =
                        (agreed.iter().max(), agreed.iter().filter(|when| **when > at).min())
                    else {
                        continue;
                    };
                    result.lags_ms.push((last - at).as_secs_f64() * 1000.0);
                    let first = first.copied().unwrap_or(at);
                    result.spreads_ms.push((last - first).as_secs_f64() * 1000.0);
                }
                None => {
                    result.missed += 1;
                    let shown = agreed.iter().filter(|agreed| agreed.is_some()).count();
                    let next = if until < to {
                        format!(
                            "changed again at most {:.0} ms later",
                            (until - at).as_secs_f64() * 1000.0
                        )
                    } else {
                        "did not change again".to_owned()
                    };
                    result.notes.push(format!(
                        "server {id} became {}: {shown} of {} dashboards showed it before the \
                         truth {next}",
                        STATES.get(usize::from(state)).copied().unwrap_or("something else"),
                        agreed.len()
                    ));
                }
            }
        }
    }
    for (longest, mine) in result.longest.iter_mut().zip(shown) {
        for (id, steps) in &truth {
            let wrong = longest_disagreement(steps, mine.get(id).unwrap_or(&none), from, to);
            *longest = (*longest).max(wrong);
        }
    }
    result
}

/// How the dashboards followed the stand-ins themselves: per death, the time from it until every
/// dashboard showed the server unreachable; per comeback, until every one showed it ok (the
/// manager reconnects with a back-off of up to its interval, 1 s, which is inside). A flip no
/// dashboard showed before the next flip the same way (the manager saw no comeback when the
/// back-off outlasted it) is left out; one some showed and others did not is counted.
struct Followed {
    lags_ms: Vec<f64>,
    /// Flips no dashboard showed.
    unseen: usize,
    /// Flips some dashboards showed and others did not.
    partly: usize,
}

fn follow_flips(
    flips: &[(i64, Vec<(Instant, bool)>)],
    shown: &[HashMap<i64, Steps>],
) -> (Followed, Followed) {
    let mut died = Followed { lags_ms: vec![], unseen: 0, partly: 0 };
    let mut came_back = Followed { lags_ms: vec![], unseen: 0, partly: 0 };
    let none: Steps = Vec::new();
    for (id, flips) in flips {
        for (i, &(at, up)) in flips.iter().enumerate() {
            let target = state_code(if up { "ok" } else { "unreachable" });
            // The next flip the same way: the same state again belongs to it.
            let until = flips[i + 1..].iter().find(|flip| flip.1 == up).map(|flip| flip.0);
            let seen: Vec<Option<Instant>> = shown
                .iter()
                .map(|mine| {
                    let mine = mine.get(id).unwrap_or(&none);
                    let after = mine.partition_point(|(when, _)| *when <= at);
                    mine[after..]
                        .iter()
                        .take_while(|(when, _)| until.is_none_or(|until| *when < until))
                        .find(|(_, value)| *value == target)
                        .map(|(when, _)| *when)
                })
                .collect();
            let followed = if up { &mut came_back } else { &mut died };
            let showing = seen.iter().filter(|seen| seen.is_some()).count();
            if showing == 0 {
                followed.unseen += 1;
            } else if showing < seen.len() {
                followed.partly += 1;
            } else if let Some(last) = seen.iter().flatten().max() {
                followed.lags_ms.push((*last - at).as_secs_f64() * 1000.0);
            }
        }
    }
    (died, came_back)
}

/// 100 stand-ins (50 flapping), 500 dashboards: the manager's cost and the dashboards' truth.
async fn flapping() {
    let recorders = bench::count("RECORDERS", 100, 20);
    let flapping = bench::count("FLAPPING", 50, 10).min(recorders);
    let clients = bench::count("CLIENTS", 500, 50);
    let seconds = bench::count("SECONDS", 20, 5) as u64;
    println!(
        "\nFlapping: {clients} dashboards, {flapping} of {recorders} stand-in recorders flapping \
         for {seconds} s"
    );

    let dir = tempfile::tempdir().expect("a temporary directory");
    let database_url = format!("sqlite://{}", dir.path().join("standby.db").display());
    let admin = manager::create_token(&database_url, "bench-admin", "admin").await;
    let viewer = manager::create_token(&database_url, "wall-screen", "viewer").await;
    let manager = manager::start(&database_url, &[], &[]).await;
    let pid = manager.pid();
    let admin_client = http::client_with_token(&admin);
    let servers_url = manager.url("/api/v1/servers");

    // The stand-ins (and their flapping) run on a runtime of their own, as if on other
    // machines: dashboards busy parsing events in this process must not hold up their
    // heartbeats, or the manager would rightly see them silent.
    let stand_in_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("stand-ins")
        .enable_all()
        .build()
        .expect("a runtime for the stand-ins");
    let elsewhere = stand_in_runtime.handle().clone();
    // The first `flapping` stand-ins can die; the others answer all along.
    let mut switches = Vec::new();
    let mut stand_ins = Vec::new();
    for i in 0..recorders {
        let name = format!("stand-in-{i:04}");
        let serving = name.clone();
        let address = if i < flapping {
            let started = elsewhere.spawn(async move { flapping_stand_in(&serving).await });
            let (address, switch) = started.await.expect("a flapping stand-in");
            switches.push(switch);
            address
        } else {
            let started = elsewhere.spawn(async move { bench::health_responder(&serving).await });
            started.await.expect("a stand-in")
        };
        stand_ins.push((name, address));
    }
    let registering = Instant::now();
    let ids = {
        let (client, url) = (&admin_client, &servers_url);
        futures::stream::iter(stand_ins)
            .map(|(name, address)| async move {
                // Not monitored for failover: flapping changes states, it starts no failover.
                let body = json!({"name": name, "address": address, "kind": "recorder",
                    "failover_enabled": false, "auto_failback": false});
                let (status, answer) =
                    http::send(client, reqwest::Method::POST, url, Some(&body)).await;
                assert_eq!(status, 201, "registering {name} was refused: {answer}");
                (name, answer["id"].as_i64().expect("the new server has an id"))
            })
            .buffer_unordered(8)
            .collect::<HashMap<String, i64>>()
            .await
    };
    bench::wait_for(
        "every stand-in ok",
        Duration::from_secs(60),
        Duration::from_millis(100),
        || {
            let (client, url) = (&admin_client, &servers_url);
            async move {
                let servers = list(client, url).await?;
                let ok = servers.values().filter(|state| **state == state_code("ok")).count();
                (ok == recorders).then_some(())
            }
        },
    )
    .await;
    println!(
        "registered {recorders} stand-ins, every one ok, in {:.1} s",
        registering.elapsed().as_secs_f64()
    );

    let wall = Arc::new(Wall {
        client: http::client_with_token(&viewer),
        events_url: manager.url("/api/v1/events"),
        servers_url: servers_url.clone(),
        connected: AtomicUsize::new(0),
        connecting: Semaphore::new(32),
        ending: AtomicBool::new(false),
    });
    let views: Arc<Vec<Arc<Mutex<View>>>> =
        Arc::new((0..clients).map(|_| Arc::default()).collect());
    let connecting = Instant::now();
    for (index, view) in views.iter().enumerate() {
        tokio::spawn(wall_screen(index, wall.clone(), view.clone()));
    }
    bench::wait_for(
        &format!("{clients} dashboards connected"),
        Duration::from_secs(120),
        Duration::from_millis(20),
        || async { (wall.connected.load(Ordering::SeqCst) >= clients).then_some(()) },
    )
    .await;
    println!(
        "{clients} dashboards connected and loaded in {:.1} s",
        connecting.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs(1)).await;

    let polls: Arc<Mutex<Vec<Poll>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = tokio::spawn(watch_truth(
        admin_client.clone(),
        servers_url.clone(),
        views.clone(),
        polls.clone(),
        stop.clone(),
    ));
    tokio::time::sleep(POLL * 5).await;

    let applied = || views.iter().map(|view| lock(view).applied).collect::<Vec<usize>>();
    let applied_before = applied();
    let own = std::process::id();
    let (cpu_before, own_before, start) =
        (bench::cpu_seconds(pid), bench::cpu_seconds(own), Instant::now());
    let deadline = start + Duration::from_secs(seconds);
    let flappers: Vec<_> = switches
        .iter()
        .enumerate()
        .map(|(index, switch)| elsewhere.spawn(flap(switch.clone(), index, deadline)))
        .collect();
    let mut slices = Vec::new();
    let mut slice_start = (cpu_before, start);
    while Instant::now() < deadline {
        sleep_before(CPU_SLICE, deadline).await;
        let now = (bench::cpu_seconds(pid), Instant::now());
        let length = (now.1 - slice_start.1).as_secs_f64();
        if length > 0.2 {
            slices.push((now.0 - slice_start.0) / length);
        }
        slice_start = now;
    }
    // Each flapping server's deaths and comebacks, by server id.
    let mut flips: Vec<(i64, Vec<(Instant, bool)>)> = Vec::new();
    for (index, flapper) in flappers.into_iter().enumerate() {
        let id = ids[&format!("stand-in-{index:04}")];
        flips.push((id, flapper.await.unwrap_or_default()));
    }
    let deaths: usize = flips.iter().map(|(_, flips)| flips.iter().filter(|f| !f.1).count()).sum();
    let end = Instant::now();
    let elapsed = (end - start).as_secs_f64();
    let share = (bench::cpu_seconds(pid) - cpu_before) / elapsed;
    let own_share = (bench::cpu_seconds(own) - own_before) / elapsed;
    let rss_mib = bench::status_kib(pid, "VmRSS") as f64 / 1024.0;
    let hwm_mib = bench::status_kib(pid, "VmHWM") as f64 / 1024.0;
    let load_after = bench::load_average();

    // Every stand-in answers again: the truth settles (the manager reconnects with a back-off of
    // at most its interval, 1 s) and every dashboard should follow.
    let settled = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let found = {
                let polls = lock(&polls);
                let all_ok =
                    |poll: &&Poll| poll.truth.values().all(|state| *state == state_code("ok"));
                let mut after = polls.iter().filter(|poll| poll.sent > end);
                let ok_at = after.clone().find(all_ok).map(|poll| poll.received);
                let matched = after.find(|poll| all_ok(poll) && poll.disagreeing == 0);
                ok_at.zip(matched.map(|poll| poll.received))
            };
            if let Some(found) = found {
                return found;
            }
            tokio::time::sleep(POLL / 2).await;
        }
    })
    .await
    .ok();
    tokio::time::sleep(POLL * 5).await;
    stop.store(true, Ordering::SeqCst);
    let _ = watcher.await;
    wall.ending.store(true, Ordering::SeqCst);
    let delivered: Vec<usize> =
        applied().iter().zip(&applied_before).map(|(after, before)| after - before).collect();

    let polls = std::mem::take(&mut *lock(&polls));
    let views: Vec<View> = views.iter().map(|view| std::mem::take(&mut *lock(view))).collect();
    let last = polls.last().map(|poll| poll.truth.clone()).unwrap_or_default();
    let matching = views.iter().filter(|view| view.states == last).count();
    let shown: Vec<HashMap<i64, Steps>> = views.iter().map(View::per_server).collect();
    let found = agreement(&polls, &shown);
    let (died, came_back) = follow_flips(&flips, &shown);

    let bound_ms = AGREE_BOUND.as_secs_f64() * 1000.0;
    let lags = Stats::of(&found.lags_ms);
    let (died_stats, back_stats) = (Stats::of(&died.lags_ms), Stats::of(&came_back.lags_ms));
    let spreads = Stats::of(&found.spreads_ms);
    let ratio = |value: Option<f64>, bound: f64| {
        value.map_or("–".into(), |v| format!("{:.2}", v / bound))
    };
    let wrong_long = found.longest.iter().filter(|longest| **longest > AGREE_BOUND).count();
    let longest_ms = found.longest.iter().max().map(|longest| longest.as_secs_f64() * 1000.0);
    let high = slices.iter().copied().reduce(f64::max);
    let disagreeing: Vec<f64> = polls.iter().map(|poll| poll.disagreeing as f64).collect();
    let disagreeing = Stats::of(&disagreeing);
    // Behind for sure: differing at a poll on a server whose state the poll before and the poll
    // after showed too, with a value shown since before the poll before was sent (an event still
    // on its way, one that came after the list was read, or a flip too brief for the polls to
    // see, does not count).
    let behind: Vec<usize> = polls
        .windows(3)
        .map(|three| {
            let steady = |id: &i64| {
                let now = three[1].truth.get(id);
                three[0].truth.get(id) == now && three[2].truth.get(id) == now
            };
            let late: HashSet<usize> = three[1]
                .mismatched
                .iter()
                .filter(|(_, id, since)| steady(id) && since.is_none_or(|at| at < three[0].sent))
                .map(|(index, _, _)| *index)
                .collect();
            late.len()
        })
        .collect();
    let behind_at_most = behind.iter().copied().max().unwrap_or_default();
    let behind_polls = behind.iter().filter(|late| **late > 0).count();
    let gaps: Vec<f64> =
        polls.windows(2).map(|pair| (pair[1].sent - pair[0].sent).as_secs_f64() * 1000.0).collect();
    let gaps = Stats::of(&gaps);
    let resyncs: usize = views.iter().map(|view| view.resyncs).sum();
    let broke = views.iter().filter(|view| view.broke).count();
    let total: usize = delivered.iter().sum();
    let (fewest, most) = (delivered.iter().min().copied(), delivered.iter().max().copied());
    let rows = vec![
        vec![
            "manager CPU over the flapping, share of one core".into(),
            format!("{:.1} %", share * 100.0),
            format!("{:.0} %", CPU_BOUND * 100.0),
            format!("{:.2}", share / CPU_BOUND),
        ],
        vec![
            format!("  highest {} s slice", CPU_SLICE.as_secs()),
            high.map_or("–".into(), |high| format!("{:.1} %", high * 100.0)),
            format!("{:.0} %", CPU_BOUND * 100.0),
            ratio(high, CPU_BOUND),
        ],
        vec![
            "manager RSS at the end of the flapping (peak VmHWM)".into(),
            format!("{rss_mib:.0} MiB ({hwm_mib:.0})"),
            "–".into(),
            "–".into(),
        ],
        vec![
            "truth changed → every dashboard agrees, median".into(),
            format!("{} ms", ms(lags.map(|s| s.median))),
            format!("{bound_ms:.0} ms"),
            ratio(lags.map(|s| s.median), bound_ms),
        ],
        vec![
            "  p95".into(),
            format!("{} ms", ms(lags.map(|s| s.p95))),
            format!("{bound_ms:.0} ms"),
            ratio(lags.map(|s| s.p95), bound_ms),
        ],
        vec![
            "  max".into(),
            format!("{} ms", ms(lags.map(|s| s.max))),
            format!("{bound_ms:.0} ms"),
            ratio(lags.map(|s| s.max), bound_ms),
        ],
        vec![
            "  first → last dashboard, p95 / max".into(),
            format!("{} / {} ms", ms(spreads.map(|s| s.p95)), ms(spreads.map(|s| s.max))),
            String::new(),
            String::new(),
        ],
        vec![
            "changes some dashboard never showed".into(),
            format!("{} of {}", found.missed, found.changes),
            "0".into(),
            String::new(),
        ],
        vec![
            "dashboards ever wrong for longer than 1 s".into(),
            format!("{wrong_long} of {clients}"),
            "0".into(),
            String::new(),
        ],
        vec![
            "  longest any dashboard was wrong".into(),
            format!("{} ms", ms(longest_ms)),
            format!("{bound_ms:.0} ms"),
            ratio(longest_ms, bound_ms),
        ],
        vec![
            "a stand-in died → every dashboard shows it unreachable, p95".into(),
            format!("{} ms", ms(died_stats.map(|s| s.p95))),
            format!("{bound_ms:.0} ms"),
            ratio(died_stats.map(|s| s.p95), bound_ms),
        ],
        vec![
            "  max (deaths timed; the manager never saw; not shown by some dashboards)".into(),
            format!(
                "{} ms ({}; {}; {})",
                ms(died_stats.map(|s| s.max)),
                died.lags_ms.len(),
                died.unseen,
                died.partly
            ),
            format!("{bound_ms:.0} ms"),
            ratio(died_stats.map(|s| s.max), bound_ms),
        ],
        vec![
            "a stand-in came back → every dashboard shows it ok (back-off inside), p95 / max"
                .into(),
            format!("{} / {} ms", ms(back_stats.map(|s| s.p95)), ms(back_stats.map(|s| s.max))),
            String::new(),
            String::new(),
        ],
        vec![
            "  comebacks timed; the manager never saw; not shown by some dashboards".into(),
            format!("{}; {}; {}", came_back.lags_ms.len(), came_back.unseen, came_back.partly),
            String::new(),
            String::new(),
        ],
        vec![
            "server_changed delivered (per dashboard)".into(),
            format!(
                "{total} ({}–{})",
                fewest.map_or("–".into(), |n| n.to_string()),
                most.map_or("–".into(), |n| n.to_string())
            ),
            String::new(),
            String::new(),
        ],
        vec![
            "resyncs; streams broken".into(),
            format!("{resyncs}; {broke}"),
            "0; 0".into(),
            String::new(),
        ],
        vec![
            "dashboards differing at a poll (in flight counts), median / p95 / max".into(),
            disagreeing.map_or("–".into(), |s| {
                format!("{:.0} / {:.0} / {:.0} of {clients}", s.median, s.p95, s.max)
            }),
            String::new(),
            String::new(),
        ],
        vec![
            "  behind on a state the polls before and after showed: polls; most dashboards".into(),
            format!("{behind_polls} of {}; {behind_at_most}", behind.len()),
            "0; 0".into(),
            String::new(),
        ],
        vec![
            "after the flapping: the list all ok; every dashboard matching it".into(),
            settled.map_or("not within 20 s".into(), |(ok, matched)| {
                let after = |at: Instant| (at - end).as_secs_f64() * 1000.0;
                format!("{:.0} ms; {:.0} ms after", after(ok), after(matched))
            }),
            String::new(),
            String::new(),
        ],
        vec![
            "dashboards matching the last poll".into(),
            format!("{matching} of {clients}"),
            format!("{clients}"),
            String::new(),
        ],
    ];
    table(
        &format!(
            "{clients} dashboards while {flapping} of {recorders} recorders flap ({elapsed:.0} s, \
             {deaths} deaths, {} changes of the truth seen in {} polls)",
            found.changes,
            polls.len()
        ),
        &["figure", "measured", "bound", "ratio"],
        &rows,
    );
    for note in found.notes.iter().take(10) {
        println!("  {note}");
    }
    println!(
        "\nMethod: real `standby serve` (monitor defaults: heartbeat 250 ms, window 1.5 s; SQLite) \
         watching {recorders} stand-in recorders in this process (on a runtime thread of their \
         own) on the agent's health stream protocol, registered with failover_enabled false (states change, no failover starts). \
         {flapping} of them flap: each dies (its open connections shut down, new ones closed as \
         soon as accepted) after 0–2 s, for 1–2 s, then answers for 1–2 s, until the end. \
         {clients} dashboards (viewer token, one SSE connection each, connected 32 at a time) \
         open GET /api/v1/events, load GET /api/v1/servers and apply each server_changed to \
         their own map id → state (resync: load again). The truth is GET /api/v1/servers read \
         every {} ms (polls {}–{} ms apart, median {}); a change is placed when the last poll \
         still showing the old state was sent, the earliest it can have happened, so the lag to \
         every dashboard agreeing overstates by up to one poll period and a round trip. \
         \"First → last dashboard\" leaves that out: from the first dashboard to show the change \
         to the last. \"Wrong\" compares each dashboard's map with that step function of the \
         truth over the whole run. Deaths and comebacks are timed from the stand-in's own \
         switch to the last dashboard showing them, so they include the manager's detection (a \
         dropped stream and a refused reconnection for a death; for a comeback the reconnection \
         back-off, up to 1 s). CPU and RSS are the manager's own (/proc), over the flapping \
         only; they include the polls. This process (stand-ins, dashboards, checks) used {:.0} % \
         of one core meanwhile, on the same 2 cores. Load average after the flapping: \
         {load_after}.",
        POLL.as_millis(),
        ms(gaps.map(|s| s.min)),
        ms(gaps.map(|s| s.max)),
        ms(gaps.map(|s| s.median)),
        own_share * 100.0
    );
    drop(manager);
    stand_in_runtime.shutdown_background();
}
