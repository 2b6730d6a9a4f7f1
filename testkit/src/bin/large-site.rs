//! A large site for the browser tests (issue 16: the dashboard and the Servers page at size):
//! `standby serve` on a fresh SQLite file with the product's default monitor timings, hundreds
//! of stand-in recorders answering the agent's health stream ([`testkit::bench::health_responder`],
//! one loopback port and name each), two real recorder agents, two real failover servers, and
//! three recorders registered at addresses where nothing listens. Then one real recorder is
//! SIGKILLed, so the manager fails it over for real onto a failover server.
//!
//! When the manager shows exactly that picture (every stand-in and the surviving real recorder
//! OK, the killed one broken, one failover server acting for it and the other standing by, the
//! three dead addresses unreachable, one active failover), it prints one line,
//! `large-site ready {json}`, with the manager's URL and the picture, and keeps the site running
//! until its standard input closes or it gets SIGTERM or SIGINT; then every process it started
//! is killed and its directory removed.
//!
//! Accounts `admin`, `operator` and `viewer` get the password of `--password`.
//!
//! Run: `cargo build -p server -p recorder -p testkit --bin large-site`, then
//! `target/debug/large-site --password P [--stand-ins 300]` (the binaries are looked up beside
//! it, or in `STANDBY_BIN_DIR`).

use futures::StreamExt;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::Read;
use std::time::{Duration, Instant};
use testkit::bench::{health_responder, wait_for};
use testkit::site::{Monitor, Site};

const USAGE: &str = "usage: large-site --password P [--stand-ins N (default 300, at least 20)]";

/// What each numbered recorder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// A stand-in answering the health stream: OK.
    StandIn,
    /// A real `standby-recorder` that stays up: OK.
    Real,
    /// A real `standby-recorder` that is SIGKILLed: failed over, broken.
    Killed,
    /// Registered at an address where nothing listens, never seen: unreachable.
    Dead,
}

struct Options {
    stand_ins: usize,
    password: String,
}

fn options() -> Options {
    let mut stand_ins = 300;
    let mut password = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--stand-ins" => {
                stand_ins = args.next().and_then(|n| n.parse().ok()).unwrap_or_else(|| {
                    eprintln!("--stand-ins needs a number\n{USAGE}");
                    std::process::exit(2)
                })
            }
            "--password" => password = args.next(),
            _ => {
                eprintln!("unknown argument {arg}\n{USAGE}");
                std::process::exit(2)
            }
        }
    }
    let Some(password) = password.filter(|password| !password.is_empty()) else {
        eprintln!("--password is missing\n{USAGE}");
        std::process::exit(2)
    };
    if stand_ins < 20 {
        eprintln!("--stand-ins must be at least 20\n{USAGE}");
        std::process::exit(2)
    }
    Options { stand_ins, password }
}

/// `recorder-001` … : the five recorders that are not stand-ins sit among them (not first nor
/// last by name), so a page that shows them first does so because it sorts problems first.
fn layout(stand_ins: usize) -> Vec<(String, Role)> {
    let total = stand_ins + 5;
    let at = |percent: usize| total * percent / 100;
    let special = [
        (at(14), Role::Real),
        (at(19), Role::Dead),
        (at(47), Role::Dead),
        (at(71), Role::Killed),
        (at(98), Role::Dead),
    ];
    let width = total.to_string().len().max(3);
    (1..=total)
        .map(|n| {
            let role = special
                .iter()
                .find(|(at, _)| *at == n)
                .map(|(_, role)| *role)
                .unwrap_or(Role::StandIn);
            (format!("recorder-{n:0width$}"), role)
        })
        .collect()
}

/// A loopback address where nothing listens, one of its own for the `n`th: the
/// discard port on a loopback host no one binds. (A port bound and let go at once was handed
/// to a stand-in starting beside it now and then, and the manager rightly refused the second
/// server at that address.)
fn dead_address(n: usize) -> String {
    format!("http://127.9.{}.{}:9", n / 256 % 256, n % 256)
}

/// Every server's state by name.
async fn states(site: &Site) -> BTreeMap<String, String> {
    site.servers()
        .await
        .into_iter()
        .filter_map(|server| {
            Some((server["name"].as_str()?.to_owned(), server["state"].as_str()?.to_owned()))
        })
        .collect()
}

/// Waits (bounded) until every server is in the state `expected` gives it, and says which are
/// not after the limit.
async fn wait_picture(site: &Site, what: &str, expected: &BTreeMap<String, String>) {
    let limit = Duration::from_secs(120);
    let deadline = Instant::now() + limit;
    loop {
        let seen = states(site).await;
        if &seen == expected {
            return;
        }
        if Instant::now() >= deadline {
            let wrong: Vec<String> = expected
                .iter()
                .filter(|(name, state)| seen.get(*name) != Some(state))
                .map(|(name, state)| {
                    format!("{name} is {:?}, not {state}", seen.get(name).map(String::as_str))
                })
                .take(20)
                .collect();
            panic!("gave up after {limit:?} waiting for {what}: {}", wrong.join(", "));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::main]
async fn main() {
    let options = options();
    let started = Instant::now();
    let layout = layout(options.stand_ins);

    // The product's default timings: what a real site of this size runs with.
    let mut site = Site::start_monitored(Some(2), Monitor::DEFAULT, &[]).await;
    site.agent_args = testkit::agent::LIGHT.iter().map(|arg| arg.to_string()).collect();
    for (name, role) in [("admin", "admin"), ("operator", "operator"), ("viewer", "viewer")] {
        let body = json!({ "name": name, "role": role, "password": options.password });
        let (status, answer) = site.post("/api/v1/users", body).await;
        assert_eq!(status, 201, "adding the user {name}: {answer}");
    }

    // Real agents first: the failover needs the killed recorder's settings cached.
    // Manual failback only: the killed recorder stays dead, its failover stays active.
    let real = json!({ "auto_failback": false });
    site.agent_with("failover-1", "failover", real.clone()).await;
    site.agent_with("failover-2", "failover", real.clone()).await;
    for (name, role) in &layout {
        if matches!(role, Role::Real | Role::Killed) {
            site.agent_with(name, "recorder", real.clone()).await;
        }
    }

    // Stand-ins and dead addresses, registered through the REST API as an administrator's
    // script would, a few at a time. Stand-ins are not monitored for failover: on a machine
    // this loaded, one stalled heartbeat stream must not move a stand-in (which cannot record)
    // onto the failover server the test expects standing by. They are watched all the same.
    let others: Vec<(String, Role)> = layout
        .iter()
        .filter(|(_, role)| matches!(role, Role::StandIn | Role::Dead))
        .cloned()
        .collect();
    let site_ref = &site;
    futures::stream::iter(others.into_iter().enumerate())
        .map(|(n, (name, role))| async move {
            let (address, settings) = match role {
                Role::StandIn => {
                    (health_responder(&name).await, json!({ "failover_enabled": false }))
                }
                _ => (dead_address(n), json!({})),
            };
            site_ref.register(&name, &address, "recorder", settings).await;
        })
        .buffer_unordered(8)
        .collect::<Vec<()>>()
        .await;
    let registered = started.elapsed();

    let mut expected: BTreeMap<String, String> = layout
        .iter()
        .map(|(name, role)| {
            let state = if *role == Role::Dead { "unreachable" } else { "ok" };
            (name.clone(), state.to_owned())
        })
        .collect();
    expected.insert("failover-1".into(), "standby".into());
    expected.insert("failover-2".into(), "standby".into());
    wait_picture(&site, "every recorder ok but the dead addresses", &expected).await;

    let (killed, _) = layout.iter().find(|(_, role)| *role == Role::Killed).expect("one killed");
    site.wait_settings_cached(killed).await;
    site.kill(killed).await;
    let entry: Value = wait_for(
        &format!("{killed}'s failover to be active"),
        Duration::from_secs(60),
        Duration::from_millis(100),
        || async {
            site.failovers("?state=active")
                .await
                .into_iter()
                .find(|entry| entry["status"] == "active" && entry["recorder"]["name"] == *killed)
        },
    )
    .await;
    let acting = entry["failover_server"]["name"]
        .as_str()
        .expect("an active failover has its failover server")
        .to_owned();
    let standing_by = if acting == "failover-1" { "failover-2" } else { "failover-1" };
    expected.insert(killed.clone(), "broken".into());
    expected.insert(acting.clone(), "acting".into());
    wait_picture(&site, "the failed-over picture", &expected).await;

    let recorders = layout.len();
    let ok =
        expected.iter().filter(|(name, state)| name.starts_with("recorder-") && *state == "ok");
    let problems: Vec<Value> = expected
        .iter()
        .filter(|(_, state)| !matches!(state.as_str(), "ok" | "standby"))
        .map(|(name, state)| json!({ "name": name, "state": state }))
        .collect();
    let ready = json!({
        "url": site.manager.address(),
        "recorders": recorders,
        "recorders_ok": ok.count(),
        "stand_ins": options.stand_ins,
        "failover_servers": 2,
        "standing_by": [standing_by],
        "problems": problems,
        "failover": { "id": entry["id"], "recorder": killed, "failover_server": acting },
        "registered_s": registered.as_secs_f64(),
        "ready_s": started.elapsed().as_secs_f64(),
    });
    println!("large-site ready {ready}");

    // Until told to stop: standard input closed (the test's process ended, however it ended),
    // SIGTERM or SIGINT. Returning drops the site: its processes are killed, its files removed.
    let (closed, stdin_closed) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        let _ = closed.send(());
    });
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler");
    tokio::select! {
        _ = stdin_closed => {}
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    drop(site);
}
