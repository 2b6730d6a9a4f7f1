//! A site with two managers for the browser tests (issue 17): a fresh PostgreSQL database, two
//! `standby serve` on it (a short lease: 1500 ms, renewed every 300 ms), a real recorder agent
//! `rec-1` and a real failover server `fo-1`. Once the first manager leads, the other follows,
//! and both servers are watched, it prints `ha-site ready {json}` with both managers' URLs and
//! ids, then obeys lines on its standard input:
//!
//! - `kill-leader`: SIGKILLs the leading manager; prints `ha-site killed-leader {json}` once the
//!   other leads (its id and epoch);
//! - `kill rec-1`: SIGKILLs the recorder; prints `ha-site killed rec-1`.
//!
//! It stops when its standard input closes or on SIGTERM/SIGINT, killing what it started.
//! Accounts `admin`, `operator` and `viewer` get the password of `--password`.
//!
//! Run: `cargo build -p server -p recorder -p testkit --bin ha-site`, then
//! `target/debug/ha-site --password P` (PostgreSQL at 127.0.0.1:5432, or
//! `STANDBY_TEST_POSTGRES_URL`).

use serde_json::{Value, json};
use std::time::Duration;
use testkit::bench::wait_for;
use testkit::postgres::fresh_database;
use testkit::process::Process;
use testkit::site::Site;

const USAGE: &str = "usage: ha-site --password P";
const LEASE: [&str; 4] = ["--lease-ms", "1500", "--renew-ms", "300"];

fn password() -> String {
    let mut args = std::env::args().skip(1);
    match (args.next().as_deref(), args.next()) {
        (Some("--password"), Some(password)) if !password.is_empty() => password,
        _ => {
            eprintln!("{USAGE}");
            std::process::exit(2)
        }
    }
}

/// The leader as `at` lists it, once one leads and it is not `not`.
async fn leader(site: &Site, at: &Process, not: Option<&str>) -> Value {
    wait_for("a leading manager", Duration::from_secs(60), Duration::from_millis(50), || async {
        site.managers(at)
            .await?
            .into_iter()
            .find(|manager| manager["leader"] == true)
            .filter(|manager| not.is_none_or(|not| manager["id"] != not))
    })
    .await
}

#[tokio::main]
async fn main() {
    let password = password();
    let Some(database) = fresh_database("ha_site").await else {
        eprintln!("ha-site needs PostgreSQL");
        std::process::exit(1)
    };
    let mut site = Site::start_on_database(&database.url, Some(1), &LEASE).await;
    site.agent_args = testkit::agent::LIGHT.iter().map(|arg| arg.to_string()).collect();
    for (name, role) in [("admin", "admin"), ("operator", "operator"), ("viewer", "viewer")] {
        let body = json!({ "name": name, "role": role, "password": password });
        let (status, answer) = site.post("/api/v1/users", body).await;
        assert_eq!(status, 201, "adding the user {name}: {answer}");
    }
    let first = leader(&site, &site.manager, None).await;
    let mut follower = site.another_manager().await;
    let manual = json!({ "auto_failback": false });
    site.agent_with("fo-1", "failover", manual.clone()).await;
    site.agent_with("rec-1", "recorder", manual).await;
    site.wait_state("rec-1", "ok").await;
    site.wait_state("fo-1", "standby").await;
    site.wait_settings_cached("rec-1").await;
    let managers =
        wait_for("two managers", Duration::from_secs(30), Duration::from_millis(50), || async {
            let listed = site.managers(&follower).await?;
            (listed.len() == 2).then_some(listed)
        })
        .await;
    let follower_id = managers
        .iter()
        .find(|manager| manager["id"] != first["id"])
        .map(|manager| manager["id"].clone())
        .unwrap_or_default();
    let ready = json!({
        "leader": { "url": site.manager.address(), "id": first["id"], "epoch": first["epoch"] },
        "follower": { "url": follower.address(), "id": follower_id },
    });
    println!("ha-site ready {ready}");

    // Standard input, a line at a time; closed (the test's process ended, however) ends it.
    let (sender, mut lines) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::stdin().lock()) {
            let Ok(line) = line else { break };
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler");
    loop {
        let line = tokio::select! {
            line = lines.recv() => line,
            _ = term.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        };
        match line.as_deref().map(str::trim) {
            None => break,
            Some("kill-leader") => {
                let old = leader(&site, &follower, None).await;
                site.manager.kill().await;
                // The survivor drives the site from now on.
                std::mem::swap(&mut site.manager, &mut follower);
                let new = leader(&site, &site.manager, old["id"].as_str()).await;
                println!(
                    "ha-site killed-leader {}",
                    json!({ "id": new["id"], "epoch": new["epoch"] })
                );
            }
            Some("kill rec-1") => {
                site.kill("rec-1").await;
                println!("ha-site killed rec-1");
            }
            Some(other) => eprintln!("ha-site: unknown command {other:?}"),
        }
    }
    drop(follower);
    drop(site);
    drop(database);
}
