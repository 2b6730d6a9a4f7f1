//! The real binaries, started on port 0 and killed with SIGKILL.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The manager binary cargo built for these tests.
pub fn manager_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_standby"))
}

/// The recorder agent lives in its own package; its binary sits beside the manager's.
pub fn recorder_binary() -> PathBuf {
    let binary = manager_binary().with_file_name("standby-recorder");
    assert!(
        binary.exists(),
        "{} is missing: build it first with `cargo build -p recorder`",
        binary.display()
    );
    binary
}

pub struct Process {
    pub child: Child,
    /// `http://127.0.0.1:PORT`
    pub address: String,
}

impl Process {
    pub async fn kill(&mut self) {
        // tokio's kill is SIGKILL: no chance to clean up, like a power cut.
        self.child.kill().await.expect("SIGKILL");
    }

    pub fn port(&self) -> u16 {
        self.address.rsplit(':').next().and_then(|port| port.parse().ok()).expect("a port")
    }
}

/// Starts a binary and waits for the line that says where it listens.
async fn start(mut command: Command, marker: &str) -> Process {
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::inherit()).kill_on_drop(true);
    let mut child = command.spawn().expect("start the process");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let address = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.expect("read stdout") {
            if let Some(rest) = line.trim().strip_prefix(marker) {
                return rest.trim_end_matches('/').to_owned();
            }
        }
        panic!("the process ended without saying where it listens");
    })
    .await
    .expect("the process said where it listens in time");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Process { child, address }
}

pub async fn start_recorder(dir: &Path, name: &str, kind: &str, port: u16) -> Process {
    start_recorder_with(dir, name, kind, port, &[]).await
}

/// As [`start_recorder`], with extra flags (e.g. `--copy-max-rate`).
pub async fn start_recorder_with(
    dir: &Path,
    name: &str,
    kind: &str,
    port: u16,
    extra: &[String],
) -> Process {
    let mut command = Command::new(recorder_binary());
    command
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(dir.join(name))
        .arg("--name")
        .arg(name)
        .arg("--kind")
        .arg(kind)
        .args(extra);
    start(command, "standby-recorder listening on ").await
}

pub async fn start_manager(database_url: &str, extra: &[&str]) -> Process {
    start_manager_with_env(database_url, extra, &[]).await
}

pub async fn start_manager_with_env(
    database_url: &str,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Process {
    let mut command = Command::new(manager_binary());
    command
        .arg("serve")
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--database-url")
        .arg(database_url)
        .args(extra)
        .env("STANDBY_LOG", "warn")
        .envs(env.iter().copied());
    start(command, "Standby is listening on ").await
}

/// Creates an API token through the command line, as an administrator would.
pub async fn create_token(database_url: &str, name: &str, role: &str) -> String {
    let output = Command::new(manager_binary())
        .args(["token", "create", name, "--role", role, "--database-url", database_url])
        .env("STANDBY_LOG", "warn")
        .output()
        .await
        .expect("run standby token create");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8(output.stdout).expect("utf-8");
    stdout.lines().last().expect("the token's secret").trim().to_owned()
}

/// A client that sends the token with every request.
pub fn client_with_token(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    let value = format!("Bearer {token}").parse().expect("a header value");
    headers.insert(reqwest::header::AUTHORIZATION, value);
    reqwest::Client::builder().default_headers(headers).build().expect("a client")
}
