//! `standby-recorder`: the reference recording server (first version: health only; the full
//! agent is issue 4).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use clap::{Parser, ValueEnum};
use serde_json::{Value, json};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Kind {
    Recorder,
    Failover,
}

#[derive(Debug, Parser)]
#[command(name = "standby-recorder", version, about = "Reference recording server for Standby")]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "STANDBY_RECORDER_LISTEN", default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Directory of the archive.
    #[arg(long, env = "STANDBY_RECORDER_DATA_DIR")]
    data_dir: PathBuf,
    /// The recorder's name.
    #[arg(long, env = "STANDBY_RECORDER_NAME")]
    name: String,
    #[arg(long, value_enum, default_value = "recorder")]
    kind: Kind,
}

struct Agent {
    name: String,
    kind: &'static str,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt().with_writer(std::io::stderr).init();
    std::fs::create_dir_all(&args.data_dir)?;
    let agent = Arc::new(Agent {
        name: args.name,
        kind: match args.kind {
            Kind::Recorder => "recorder",
            Kind::Failover => "failover",
        },
    });
    let app = Router::new()
        .route("/api/v1/health", get(health))
        .nest("/api", Router::new().fallback(not_found))
        .with_state(agent);
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let address = listener.local_addr()?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "standby-recorder listening on http://{address}")?;
    stdout.flush()?;
    axum::serve(listener, app).with_graceful_shutdown(shutdown()).await
}

async fn health(State(agent): State<Arc<Agent>>) -> Json<Value> {
    Json(json!({ "name": agent.name, "kind": agent.kind, "acting_for": null }))
}

async fn not_found() -> (StatusCode, Json<Value>) {
    (StatusCode::NOT_FOUND, Json(json!({ "error": "not_found", "message": "No such route." })))
}

async fn shutdown() {
    let mut terminate =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => return std::future::pending().await,
        };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}
