//! Helpers shared by the integration tests: real processes on port 0, fresh databases, the
//! router in process.
#![allow(dead_code)]

pub mod app;
pub mod postgres;
pub mod processes;
pub mod site;

use std::future::Future;
use std::time::{Duration, Instant};

/// Polls `check` until it yields a value. The deadline is generous: this machine is shared,
/// and a test must never fail because it was slow, only because something never happened.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
