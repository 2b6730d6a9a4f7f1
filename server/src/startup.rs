//! Building and running the management server: the HTTP listener and the background tasks,
//! stopped together on SIGINT/SIGTERM.

use crate::engine::Engine;
use crate::http::{self, AppState};
use leptos::prelude::LeptosOptions;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub struct Settings {
    pub listen: SocketAddr,
    pub site_root: PathBuf,
}

pub struct Application {
    listener: TcpListener,
    state: AppState,
    engine: Arc<Engine>,
}

impl Application {
    /// Listens, and lets the engine finish or roll back what a previous run left mid-step.
    pub async fn build(settings: Settings, engine: Arc<Engine>) -> std::io::Result<Self> {
        let listener = TcpListener::bind(settings.listen).await.map_err(|error| {
            std::io::Error::new(
                error.kind(),
                format!("cannot listen on {}: {error}", settings.listen),
            )
        })?;
        let leptos = LeptosOptions::builder()
            .output_name("standby")
            .site_root(settings.site_root.to_string_lossy().as_ref())
            .site_pkg_dir("pkg")
            .site_addr(listener.local_addr()?)
            .build();
        let stop = CancellationToken::new();
        engine.join_managers(listener.local_addr()?, stop.clone()).await;
        engine.recover().await;
        let state = AppState { leptos, console: engine.clone(), stop };
        Ok(Application { listener, state, engine })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until SIGINT/SIGTERM; in-flight requests finish, background tasks stop.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let stop = self.state.stop.clone();
        let background = tokio::spawn({
            let (engine, stop) = (self.engine.clone(), stop.clone());
            async move { engine.run(stop).await }
        });
        let signals = tokio::spawn({
            let stop = stop.clone();
            async move {
                shutdown_signal().await;
                tracing::info!("shutting down");
                stop.cancel();
            }
        });
        let router = http::router(self.state);
        // Header-read, idle and body timeouts and a connection cap: half-sent requests must not
        // pile up for ever.
        let served = serve_limits::serve(
            self.listener,
            router,
            serve_limits::Limits::default(),
            stop.clone().cancelled_owned(),
        )
        .await;
        stop.cancel();
        signals.abort();
        let _ = background.await;
        self.engine.resign().await;
        served
    }
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for SIGTERM");
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
