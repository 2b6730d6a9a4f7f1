//! `standby demo`: a small site of real recorder agents on loopback, started and supervised by
//! the manager so a newcomer can switch them off and on from the Servers page.

use app::failure::{Failure, FailureKind};
use app::model::{DemoPower, NewServer, ServerKind, ServerPatch, WriteOnly};
use app::port::Console;
use app::rights::Caller;
use app::screens::DemoSwitch;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::Mutex;

const AGENT_BINARY: &str = "standby-recorder";
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(
        "the recorder agent {0} was not found next to this binary; build it with `cargo build -p recorder`"
    )]
    AgentMissing(PathBuf),
    #[error("cannot start recorder agent {name}: {source}")]
    Spawn { name: String, source: std::io::Error },
    #[error("recorder agent {name} did not say where it listens (see {log})")]
    NoAddress { name: String, log: PathBuf },
    #[error("cannot prepare {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("cannot register {name}: {failure}")]
    Register { name: String, failure: Failure },
}

struct Agent {
    server_id: i64,
    name: String,
    kind: ServerKind,
    /// Kept across restarts: a repaired recorder comes back at the same address.
    port: u16,
    child: Option<Child>,
}

pub struct DemoSite {
    binary: PathBuf,
    data_dir: PathBuf,
    agents: Mutex<Vec<Agent>>,
}

impl DemoSite {
    /// A site of no agents yet, in `data_dir`.
    pub fn new(data_dir: &Path) -> Result<Self, DemoError> {
        let binary = agent_binary()?;
        Ok(DemoSite { binary, data_dir: data_dir.to_owned(), agents: Mutex::new(Vec::new()) })
    }

    /// Starts `recorders` recorder agents and `failover_servers` failover servers and registers
    /// them through the console, like an administrator would (re-using the servers a previous
    /// demo run registered).
    pub async fn start(
        &self,
        recorders: u16,
        failover_servers: u16,
        console: &dyn Console,
    ) -> Result<(), DemoError> {
        let site = self;
        let wanted = (1..=recorders)
            .map(|n| (format!("recorder-{n}"), ServerKind::Recorder))
            .chain((1..=failover_servers).map(|n| (format!("failover-{n}"), ServerKind::Failover)));
        let mut agents = Vec::new();
        for (name, kind) in wanted {
            let (child, port) = site.spawn(&name, kind, 0).await?;
            let address = format!("http://127.0.0.1:{port}");
            // The agent made its secret on its first start; the demo enrols it with that.
            let secret = self.secret_of(&name)?;
            let server_id = register(console, &name, kind, &address, &secret)
                .await
                .map_err(|failure| DemoError::Register { name: name.clone(), failure })?;
            agents.push(Agent { server_id, name, kind, port, child: Some(child) });
        }
        *site.agents.lock().await = agents;
        Ok(())
    }

    pub async fn switches(&self) -> Vec<DemoSwitch> {
        let mut agents = self.agents.lock().await;
        agents
            .iter_mut()
            .map(|agent| DemoSwitch { server_id: agent.server_id, powered: agent.is_running() })
            .collect()
    }

    /// Off is a SIGKILL, as a power cut would be; on restarts the agent at its old address.
    pub async fn set_power(&self, server_id: i64, power: DemoPower) -> Result<(), Failure> {
        let mut agents = self.agents.lock().await;
        let agent = agents
            .iter_mut()
            .find(|agent| agent.server_id == server_id)
            .ok_or_else(|| Failure::not_found(format!("Demo server {server_id}")))?;
        match power {
            DemoPower::Off => {
                if let Some(mut child) = agent.child.take() {
                    let _ = child.kill().await;
                }
                tracing::info!(server = %agent.name, "demo: switched off");
            }
            DemoPower::On if agent.is_running() => {}
            DemoPower::On => {
                let (child, _) =
                    self.spawn(&agent.name, agent.kind, agent.port).await.map_err(|error| {
                        tracing::error!(%error, "demo: cannot switch on");
                        Failure::new(
                            FailureKind::Unavailable,
                            "demo_start_failed",
                            error.to_string(),
                        )
                    })?;
                agent.child = Some(child);
                tracing::info!(server = %agent.name, "demo: switched on");
            }
        }
        Ok(())
    }

    pub async fn shutdown(&self) {
        for agent in self.agents.lock().await.iter_mut() {
            if let Some(mut child) = agent.child.take() {
                let _ = child.kill().await;
            }
        }
    }

    fn secret_of(&self, name: &str) -> Result<String, DemoError> {
        let path = self.data_dir.join(name).join("secret");
        std::fs::read_to_string(&path)
            .map(|secret| secret.trim().to_owned())
            .map_err(|source| DemoError::Io { path, source })
    }

    /// Starts one agent and waits for the line that says where it listens.
    async fn spawn(
        &self,
        name: &str,
        kind: ServerKind,
        port: u16,
    ) -> Result<(Child, u16), DemoError> {
        let dir = self.data_dir.join(name);
        std::fs::create_dir_all(&dir)
            .map_err(|source| DemoError::Io { path: dir.clone(), source })?;
        let log = self.data_dir.join(format!("{name}.log"));
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(|source| DemoError::Io { path: log.clone(), source })?;
        let mut child = Command::new(&self.binary)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(&dir)
            .arg("--name")
            .arg(name)
            .arg("--kind")
            .arg(kind.as_str())
            // A demo runs for hours on a laptop: modest cameras, bounded archives.
            .arg("--video-bitrate-kbps")
            .arg("1000")
            .arg("--retention-max-bytes")
            .arg("1G")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| DemoError::Spawn { name: name.to_owned(), source })?;
        let no_address = || DemoError::NoAddress { name: name.to_owned(), log: log.clone() };
        let stdout = child.stdout.take().ok_or_else(no_address)?;
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(STARTUP_TIMEOUT, lines.next_line()).await;
        let port = match first {
            Ok(Ok(Some(line))) => listening_port(&line).ok_or_else(no_address)?,
            _ => return Err(no_address()),
        };
        // Keep draining, so a chatty agent never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok((child, port))
    }
}

impl Agent {
    fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }
}

/// `standby-recorder listening on http://127.0.0.1:PORT` → PORT.
pub fn listening_port(line: &str) -> Option<u16> {
    line.trim()
        .strip_prefix("standby-recorder listening on http://")?
        .rsplit(':')
        .next()?
        .parse()
        .ok()
}

fn agent_binary() -> Result<PathBuf, DemoError> {
    let exe = std::env::current_exe()
        .map_err(|source| DemoError::Io { path: PathBuf::from("."), source })?;
    let binary = exe.with_file_name(AGENT_BINARY);
    if binary.exists() { Ok(binary) } else { Err(DemoError::AgentMissing(binary)) }
}

/// Adds the server, or points the one a previous run registered at its new address.
async fn register(
    console: &dyn Console,
    name: &str,
    kind: ServerKind,
    address: &str,
    secret: &str,
) -> Result<i64, Failure> {
    let demo = Caller::system("demo");
    let existing = console.servers(&demo).await?.into_iter().find(|server| server.name == name);
    if let Some(existing) = existing {
        let patch = ServerPatch {
            address: Some(address.to_owned()),
            kind: Some(kind),
            secret: Some(WriteOnly(secret.to_owned())),
            ..Default::default()
        };
        return Ok(console.edit_server(&demo, existing.id, patch).await?.id);
    }
    let new = NewServer {
        name: name.to_owned(),
        address: address.to_owned(),
        kind,
        failover_enabled: kind == ServerKind::Recorder,
        auto_failback: kind == ServerKind::Recorder,
        copy_after_failback: true,
        secret: Some(WriteOnly(secret.to_owned())),
    };
    Ok(console.add_server(&demo, new).await?.id)
}

#[cfg(test)]
mod tests {
    use super::listening_port;

    #[test]
    fn the_agent_line_gives_the_port() {
        assert_eq!(
            listening_port("standby-recorder listening on http://127.0.0.1:40123\n"),
            Some(40123)
        );
        assert_eq!(listening_port("something else"), None);
    }
}
