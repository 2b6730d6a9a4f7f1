//! A real process on a loopback port: started, known by the "listening" line it prints, killed
//! with SIGKILL (as a power cut would) and started again at the same port or a new one.

use crate::DEADLINE;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Where a process's standard error goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stderr {
    /// To the test's or bench's own standard error.
    Inherit,
    /// Appended to a file (kept across restarts), read back with [`Process::log_text`].
    File(PathBuf),
}

/// How to start a program, again and again: `program BEFORE… --listen 127.0.0.1:PORT AFTER…`.
#[derive(Debug, Clone)]
pub struct Launch {
    /// What it is, for messages: "the manager", "recorder agent rec-1".
    pub what: String,
    pub program: PathBuf,
    pub before: Vec<OsString>,
    pub after: Vec<OsString>,
    pub env: Vec<(OsString, OsString)>,
    pub stderr: Stderr,
    /// The start of the line on standard output that says where it listens; the address
    /// follows it.
    pub marker: &'static str,
    /// Where it listens (`127.0.0.1` unless placed elsewhere) and the network namespace it runs
    /// in, if any.
    pub place: Place,
}

/// Where a process runs on the network.
#[derive(Debug, Clone)]
pub struct Place {
    pub ip: String,
    pub netns: Option<String>,
}

impl Default for Place {
    fn default() -> Self {
        Place { ip: "127.0.0.1".into(), netns: None }
    }
}

pub struct Process {
    launch: Launch,
    /// `None` once killed or stopped.
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`
    address: String,
}

impl Process {
    /// Starts `launch` on 127.0.0.1:`port` (0: any free port) and waits (bounded) for the line
    /// that says where it listens.
    pub async fn start(launch: Launch, port: u16) -> Process {
        let mut process = Process { launch, child: None, address: String::new() };
        process.spawn(port).await;
        process
    }

    async fn spawn(&mut self, port: u16) {
        let launch = &self.launch;
        let stderr = match &launch.stderr {
            Stderr::Inherit => Stdio::inherit(),
            Stderr::File(path) => std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map(Stdio::from)
                .unwrap_or_else(|error| panic!("cannot open the log {}: {error}", path.display())),
        };
        let mut command = match &launch.place.netns {
            Some(netns) => {
                // `ip netns exec` execs the program, so the child is the program itself.
                let mut command = Command::new("ip");
                command.args(["netns", "exec", netns]).arg(&launch.program);
                command
            }
            None => Command::new(&launch.program),
        };
        command
            .args(&launch.before)
            .arg("--listen")
            .arg(format!("{}:{port}", launch.place.ip))
            .args(&launch.after)
            .envs(launch.env.iter().map(|(key, value)| (key, value)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            // A test that panics must not leave its processes behind.
            .kill_on_drop(true);
        let mut child = command.spawn().unwrap_or_else(|error| {
            panic!("cannot start {} ({}): {error}", launch.what, launch.program.display())
        });
        let stdout = child.stdout.take().expect("standard output is piped");
        let mut lines = BufReader::new(stdout).lines();
        let marker = launch.marker;
        let address = tokio::time::timeout(DEADLINE, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(rest) = line.trim().strip_prefix(marker) {
                    return Some(rest.trim_end_matches('/').to_owned());
                }
            }
            None
        })
        .await;
        let address = match address {
            Ok(Some(address)) => address,
            Ok(None) => {
                panic!("{} ended without saying where it listens{}", launch.what, self.log_tail())
            }
            Err(_) => panic!(
                "{} did not say where it listens within {DEADLINE:?}{}",
                launch.what,
                self.log_tail()
            ),
        };
        // Keep draining standard output, so the child never blocks on a full pipe nor fails
        // writing to a closed one.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        self.address = address;
        self.child = Some(child);
    }

    /// `http://127.0.0.1:PORT`, where it listens (listened, once killed).
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The address followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub fn port(&self) -> u16 {
        self.address
            .rsplit(':')
            .next()
            .and_then(|port| port.parse().ok())
            .expect("the process printed an address with a port")
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().and_then(Child::id).expect("the process runs")
    }

    /// SIGKILL: no chance to close anything, like a power cut; then reaped. Nothing when it is
    /// not running.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // An error means it had already exited, which is what a kill is for.
            let _ = child.kill().await;
        }
    }

    /// SIGTERM, and the exit status once it has stopped.
    pub async fn terminate(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("the process runs");
        let pid = child.id().expect("a running child has an id").to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().await;
        assert!(sent.is_ok_and(|status| status.success()), "`kill -TERM {pid}` failed");
        child.wait().await.expect("wait for the process to stop")
    }

    /// Waits for a process that stops by itself (e.g. one told to crash at a step).
    pub async fn wait(&mut self) -> std::io::Result<ExitStatus> {
        match self.child.as_mut() {
            Some(child) => child.wait().await,
            None => Err(std::io::Error::other("the process is not running")),
        }
    }

    /// Killed (if it runs) and started again at the same address, as a repaired server
    /// comes back.
    pub async fn restart(&mut self) {
        let port = self.port();
        self.kill().await;
        self.spawn(port).await;
    }

    /// Killed (if it runs) and started again at a new port, as a server moved elsewhere.
    pub async fn restart_elsewhere(&mut self) {
        self.kill().await;
        self.spawn(0).await;
    }

    /// Everything it wrote to its log file so far (empty when standard error is inherited).
    pub fn log_text(&self) -> String {
        match &self.launch.stderr {
            Stderr::File(path) => std::fs::read_to_string(path).unwrap_or_default(),
            Stderr::Inherit => String::new(),
        }
    }

    fn log_tail(&self) -> String {
        let log = self.log_text();
        if log.is_empty() { String::new() } else { format!("; its log:\n{log}") }
    }
}

impl Drop for Process {
    /// SIGKILL and reap, blocking briefly: a test's temporary directory is removed right after
    /// its processes are dropped, and a process still writing there would leave files behind.
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        if child.start_kill().is_err() {
            return; // Already reaped.
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while matches!(child.try_wait(), Ok(None)) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }
}
