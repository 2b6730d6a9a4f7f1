//! Serving an axum router on a hostile network: `axum::serve` sets no timer, so a client that
//! opens a connection and sends half a request holds it (and its task) for ever, and nothing
//! caps how many such connections there are. [`serve`] is `axum::serve` with those limits:
//!
//! - **header read and idle**: a connection must deliver a whole request head within
//!   [`Limits::header_read`] of opening, or of its previous response (a kept-alive connection
//!   that stays silent that long is closed);
//! - **body read**: a request body that sends nothing for [`Limits::body_idle`] fails;
//! - **connections**: at most [`Limits::max_connections`] at once; beyond that, new ones wait in
//!   the listen backlog until one closes.
//!
//! Responses may stream for as long as they like (an event stream, a long playback).

use axum::Router;
use axum::extract::connect_info::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub header_read: Duration,
    pub body_idle: Duration,
    pub max_connections: usize,
    /// After shutdown is asked for, how long open connections may finish.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read: Duration::from_secs(15),
            body_idle: Duration::from_secs(30),
            max_connections: 2048,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then lets open connections finish
/// for the grace period. Handlers can read the peer's address (`ConnectInfo<SocketAddr>`).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let app = app.layer(tower_http::timeout::RequestBodyTimeoutLayer::new(limits.body_idle));
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut warned_full = false;
    tokio::pin!(shutdown);
    loop {
        if permits.available_permits() == 0 && !warned_full {
            tracing::warn!(
                max = limits.max_connections,
                "the connection cap is reached; new connections wait until one closes"
            );
            warned_full = true;
        }
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        if permits.available_permits() > 0 {
            warned_full = false;
        }
        // Without TCP_NODELAY a streamed page on a kept-alive connection waits ~40 ms for the
        // client's delayed ACK.
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY");
        }
        let service =
            app.clone().map_request(move |mut request: hyper::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request
            });
        // HTTP/1.1 only: neither the browser pages nor the agents' clients speak anything else
        // to these servers (no TLS, so no ALPN).
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder.timer(TokioTimer::new()).header_read_timeout(limits.header_read);
        let connection =
            builder.serve_connection(TokioIo::new(tcp), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%peer, %error, "connection ended");
            }
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(limits.shutdown_grace) => {
            tracing::warn!("open connections did not finish in time; stopping anyway");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use std::net::SocketAddr;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    async fn started(limits: Limits) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let app =
            Router::new()
                .route("/", get(|| async { "hello" }))
                .route("/echo", axum::routing::post(|body: String| async move { body }))
                .route(
                    "/peer",
                    get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move {
                        peer.ip().to_string()
                    }),
                );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(serve(listener, app, limits, async move {
            let _ = stopped.await;
        }));
        (address, stop)
    }

    /// Reads until the server closes the connection (or `within` passes: `None`).
    async fn closed_within(stream: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
        let mut read = Vec::new();
        tokio::time::timeout(within, stream.read_to_end(&mut read)).await.ok()?.ok()?;
        Some(read)
    }

    fn short() -> Limits {
        Limits {
            header_read: Duration::from_millis(300),
            body_idle: Duration::from_millis(300),
            max_connections: 3,
            shutdown_grace: Duration::from_secs(1),
        }
    }

    #[tokio::test]
    async fn a_half_sent_request_head_is_closed_after_the_header_timeout() {
        let (address, _stop) = started(short()).await;
        let mut half = TcpStream::connect(address).await.expect("connect");
        half.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.expect("write");
        assert!(closed_within(&mut half, Duration::from_secs(5)).await.is_some(), "still open");
        let mut silent = TcpStream::connect(address).await.expect("connect");
        assert!(closed_within(&mut silent, Duration::from_secs(5)).await.is_some(), "still open");
    }

    #[tokio::test]
    async fn a_stalled_body_fails_and_a_whole_request_is_answered() {
        let (address, _stop) = started(short()).await;
        let mut stalled = TcpStream::connect(address).await.expect("connect");
        stalled
            .write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
            .await
            .expect("write");
        let answer = closed_within(&mut stalled, Duration::from_secs(5)).await;
        let answer = String::from_utf8_lossy(&answer.unwrap_or_default()).into_owned();
        assert!(!answer.contains("200 OK"), "a stalled body was answered as whole: {answer}");
        let mut whole = TcpStream::connect(address).await.expect("connect");
        whole
            .write_all(b"GET /peer HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .expect("write");
        let answer = closed_within(&mut whole, Duration::from_secs(5)).await.unwrap_or_default();
        let answer = String::from_utf8_lossy(&answer).into_owned();
        assert!(answer.starts_with("HTTP/1.1 200") && answer.ends_with("127.0.0.1"), "{answer}");
    }

    #[tokio::test]
    async fn connections_beyond_the_cap_wait_for_one_to_close() {
        let limits = Limits { header_read: Duration::from_secs(30), ..short() };
        let (address, _stop) = started(limits).await;
        let mut held = Vec::new();
        for _ in 0..3 {
            held.push(TcpStream::connect(address).await.expect("connect"));
        }
        let mut fourth = TcpStream::connect(address).await.expect("the backlog takes it");
        fourth
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .expect("write");
        assert_eq!(closed_within(&mut fourth, Duration::from_millis(500)).await, None, "served");
        held.pop();
        let answer = closed_within(&mut fourth, Duration::from_secs(5)).await.unwrap_or_default();
        assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));
    }
}
