//! Logs written to a pipe or a file carry no terminal colour codes: people read them in
//! `standby-demo/*.log`, a service's journal or a CI log, where the codes are noise.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use testkit::binaries::Binary;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

fn manager() -> std::path::PathBuf {
    Binary::Manager.find().expect("the manager is built")
}

/// How every ANSI colour sequence starts.
const ESCAPE: &str = "\x1b[";

fn assert_plain(what: &str, log: &str, expected: &str) {
    assert!(log.contains(expected), "{what} says {expected:?}: {log}");
    assert!(!log.contains(ESCAPE), "{what} has colour codes: {log:?}");
}

#[tokio::test]
async fn the_manager_logs_to_a_pipe_without_colour_codes() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}", dir.path().join("standby.db").display());
    let output = Command::new(manager())
        .args(["user", "list", "--database-url", &url])
        .env("STANDBY_LOG", "info")
        .output()
        .await
        .expect("run standby user list");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_plain(
        "the manager's log",
        &String::from_utf8_lossy(&output.stderr),
        "opening the store",
    );
}

#[tokio::test]
async fn the_demo_and_its_agents_log_without_colour_codes() {
    Binary::Agent.find().expect("the agent is built (cargo build -p recorder)");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut demo = Command::new(manager())
        .arg("demo")
        .args(["--listen", "127.0.0.1:0", "--recorders", "1", "--failover-servers", "1"])
        .args(["--password", "a password for this test"])
        .arg("--data-dir")
        .arg(dir.path())
        .env("STANDBY_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start standby demo");
    let stderr = demo.stderr.take().expect("piped stderr");
    // Read as it comes: the monitor logs its start from a task of its own, which on a loaded
    // machine can come after the demo says it runs.
    let (seen, mut log_so_far) = tokio::sync::watch::channel(String::new());
    let log = tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            seen.send_modify(|log| {
                log.push_str(&line);
                log.push('\n');
            });
        }
        seen.borrow().clone()
    });
    let mut lines = BufReader::new(demo.stdout.take().expect("piped stdout")).lines();
    tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(line) = lines.next_line().await.expect("read stdout") {
            if line.contains("Standby demo is running") {
                return;
            }
        }
        panic!("the demo ended before it was running");
    })
    .await
    .expect("the demo starts in time");

    // The agents write their logs to files in the data directory.
    for agent in ["recorder-1", "failover-1"] {
        let file = dir.path().join(format!("{agent}.log"));
        let text = read_when_written(&file).await;
        assert_plain(&file.display().to_string(), &text, "listening");
    }

    let started = log_so_far.wait_for(|log| log.contains("health monitor started"));
    let _ = tokio::time::timeout(Duration::from_secs(60), started).await;

    // Interrupted as Ctrl-C would: the demo stops its agents and closes its log.
    let pid = demo.id().expect("the demo runs").to_string();
    let interrupted = Command::new("kill").args(["-INT", &pid]).status().await.expect("run kill");
    assert!(interrupted.success());
    let _ = tokio::time::timeout(Duration::from_secs(30), demo.wait()).await;
    let _ = demo.kill().await;
    let log = tokio::time::timeout(Duration::from_secs(30), log)
        .await
        .expect("the demo's log ends")
        .expect("read the demo's log");
    assert_plain("the demo's piped log", &log, "health monitor started");
}

/// The agent may not have flushed its first lines yet when the demo says it runs.
async fn read_when_written(file: &Path) -> String {
    for _ in 0..600 {
        let text = tokio::fs::read_to_string(file).await.unwrap_or_default();
        if text.contains("listening") {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{} never said the agent listens", file.display());
}
