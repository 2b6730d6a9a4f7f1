//! Building the agent from its arguments and running it until a signal stops it.

use crate::agent::{Agent, AgentError, Sizing};
use crate::archive::retention::{self, RetentionPolicy};
use crate::archive::{Archive, ArchiveError};
use crate::cli::Args;
use crate::copy::queue::QueueError;
use crate::copy::{CopyConfig, CopyService, PullClient, TaskQueue, Worker};
use crate::recording::{Recording, RecordingConfig};
use crate::synthetic::VideoDefaults;
use crate::time::now_micros;
use agent_api::Capacity;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

/// How long open requests may run on after SIGINT/SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    #[error(transparent)]
    Agent(#[from] AgentError),
    #[error(transparent)]
    Copies(#[from] QueueError),
    #[error(transparent)]
    Credential(#[from] crate::credential::CredentialError),
    #[error("starting the copy client: {0}")]
    PullClient(#[from] reqwest::Error),
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> StartupError {
    let context = context.into();
    move |source| StartupError::Io { context, source }
}

/// Opens the archive (recovering torn tails), starts recording and serves the API until
/// SIGINT or SIGTERM; then stops recording cleanly (segments synced and closed).
pub async fn run(args: Args) -> Result<(), StartupError> {
    std::fs::create_dir_all(&args.data_dir)
        .map_err(io(format!("creating {}", args.data_dir.display())))?;
    // Two agents on one archive would interleave appends and corrupt it: the second one stops.
    // The lock lives as long as this function, i.e. the process.
    let _lock = lock_data_dir(&args.data_dir)?;
    // Before anything listens: the secret file must exist when the "listening" line appears.
    let credential = Arc::new(crate::credential::Credential::load(
        &args.name,
        &args.data_dir,
        args.secret_file.as_deref(),
    )?);
    let archive_dir = args.data_dir.join("archive");
    let archive = tokio::task::spawn_blocking(move || Archive::open(&archive_dir))
        .await
        .map_err(|e| io("opening the archive")(std::io::Error::other(e)))??;
    let archive = Arc::new(archive);
    let recording = Recording::start(RecordingConfig {
        origin: args.name.clone(),
        video: VideoDefaults { frame_rate: args.video_fps, bitrate_kbps: args.video_bitrate_kbps },
        segment_max_bytes: args.segment_max_bytes,
        segment_max_duration: args.segment_max_duration,
    })
    .map_err(io("starting the recording thread"))?;
    let agent = Arc::new(
        Agent::start(args.name.clone(), args.kind, &args.data_dir, archive.clone(), recording)?
            .sized(Sizing {
                default_video_kbps: args.video_bitrate_kbps,
                capacity: Capacity {
                    channels: args.capacity_channels,
                    bitrate_kbps: args.capacity_kbps,
                },
            }),
    );
    let copies =
        CopyService { queue: Arc::new(TaskQueue::open(&args.data_dir)?), pull: PullClient::new()? };
    let worker = Worker {
        archive: archive.clone(),
        queue: copies.queue.clone(),
        pull: copies.pull.clone(),
        config: CopyConfig {
            slice: args.copy_slice,
            max_rate: (args.copy_max_rate > 0).then_some(args.copy_max_rate),
        },
    };
    let policy = RetentionPolicy {
        max_age: (args.retention_max_age > 0).then_some(args.retention_max_age),
        max_bytes: (args.retention_max_bytes > 0).then_some(args.retention_max_bytes),
    };
    let retention = tokio::spawn(run_retention(archive, policy, args.retention_interval));
    let copying = tokio::spawn(worker.run());

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(io(format!("binding {}", args.listen)))?;
    let address = listener.local_addr().map_err(io("reading the bound address"))?;
    announce(address).map_err(io("writing to stdout"))?;
    tracing::info!(%address, name = %args.name, kind = args.kind.as_str(), "listening");
    let (stop_streams, stopping) = tokio::sync::watch::channel(false);
    let app =
        crate::http::router(agent.clone(), copies, credential, crate::http::Stopping(stopping));
    // Open requests may run on for a bounded time after a signal: a client slowly streaming a
    // long playback must not keep the agent from stopping.
    let limits = serve_limits::Limits { shutdown_grace: SHUTDOWN_GRACE, ..Default::default() };
    let signalled = async move {
        shutdown().await;
        let _ = stop_streams.send(true);
    };
    let served = serve_limits::serve(listener, app, limits, signalled).await;
    retention.abort();
    copying.abort();
    let stopping = agent.clone();
    if tokio::task::spawn_blocking(move || stopping.stop()).await.is_err() {
        tracing::error!("stopping the recording failed");
    }
    served.map_err(io("serving"))
}

fn lock_data_dir(dir: &std::path::Path) -> Result<std::fs::File, StartupError> {
    let path = dir.join("lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io(format!("opening {}", path.display())))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(StartupError::Io {
            context: format!("locking {}", path.display()),
            source: std::io::Error::other("another standby-recorder is using this data directory"),
        }),
        Err(std::fs::TryLockError::Error(source)) => {
            Err(StartupError::Io { context: format!("locking {}", path.display()), source })
        }
    }
}

/// The one line on stdout that tells a parent process the port (tests and `standby demo` parse
/// it), flushed at once because stdout is a pipe there and would otherwise be block-buffered.
fn announce(address: std::net::SocketAddr) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "standby-recorder listening on http://{address}")?;
    stdout.flush()
}

async fn run_retention(archive: Arc<Archive>, policy: RetentionPolicy, interval: i64) {
    let mut ticker = tokio::time::interval(Duration::from_micros(interval.max(100_000) as u64));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let archive = archive.clone();
        match tokio::task::spawn_blocking(move || {
            retention::enforce(&archive, &policy, now_micros())
        })
        .await
        {
            Ok(Ok(report)) if report.segments > 0 => {
                tracing::info!(segments = report.segments, bytes = report.bytes, "retention pass");
            }
            Ok(Ok(_)) => {}
            Ok(Err(error)) => {
                tracing::error!(%error, "retention failed; it retries at the next pass")
            }
            Err(error) => tracing::error!(%error, "retention task failed"),
        }
    }
}

async fn shutdown() {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut terminate) = signal(SignalKind::terminate()) else {
        tracing::warn!("cannot watch SIGTERM; only SIGINT stops the agent gracefully");
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    tracing::info!("shutting down");
}
