//! `standby-recorder --listen ADDR --data-dir DIR --name NAME [--kind recorder|failover]`

use clap::Parser;
use recorder::cli::Args;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    // Logs go to stderr: stdout carries only the "listening" line that parents parse.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    match recorder::startup::run(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "standby-recorder stopped");
            std::process::ExitCode::FAILURE
        }
    }
}
