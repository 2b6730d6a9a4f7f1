//! One watcher per server: a long-lived health stream, reopened whenever it drops. It reports
//! every heartbeat, a dropped connection at once, a refused (re)connection, and heartbeats that
//! stop for the failover window (a host that vanished without closing anything).
//!
//! An agent that will not open the stream for the manager's credential (or an older agent
//! without one) is probed with plain health checks instead, which are open: a wrong secret must
//! never look like a dead recorder.

use crate::recorders::{Health, Keyring, RecorderError, Recorders};
use app::model::Server;
use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// What a watcher saw.
#[derive(Debug)]
pub enum Seen {
    Beat(Health),
    /// The open stream ended or broke: the process may have died; a reconnection follows at
    /// once and confirms it (or not).
    Dropped,
    /// No heartbeat for the whole failover window on an open stream.
    Silent,
    /// The agent could not be reached, or did not answer in time.
    Refused(String),
    /// The agent answers but refuses the stream to the manager's credential; it is probed with
    /// health checks meanwhile.
    CredentialRefused(String),
}

#[derive(Debug)]
pub struct Report {
    pub server_id: i64,
    /// Which watcher of this server: reports of a replaced one are stale.
    pub generation: u64,
    pub seen: Seen,
}

#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub heartbeat: Duration,
    /// No heartbeat for this long counts as silence.
    pub window: Duration,
    /// A single health check's bound (the probe when the stream is refused).
    pub check_timeout: Duration,
    /// The longest pause between reconnection attempts.
    pub retry_at_most: Duration,
}

/// How often a watcher that probes with health checks tries the stream again.
const STREAM_RETRY: Duration = Duration::from_secs(30);

/// A heartbeat that says nothing new is passed on at most this often: the monitor needs changes
/// at once, but "still there" only for the last-seen time it flushes every few seconds. At
/// 10,000 servers and 250 ms heartbeats this spares the one monitor task 30,000 reports a
/// second. Silence and dropped streams are judged here, on every heartbeat, regardless.
const UNCHANGED_AT_MOST_EVERY: Duration = Duration::from_secs(1);

/// Which heartbeats of one stream are worth a report.
#[derive(Default)]
struct NewsFilter {
    last: Option<(Health, tokio::time::Instant)>,
}

impl NewsFilter {
    /// The first heartbeat, one that differs from the last reported, or one after a second of
    /// sameness.
    fn worth_reporting(&mut self, health: &Health, now: tokio::time::Instant) -> bool {
        if let Some((last, at)) = &self.last
            && last == health
            && now.duration_since(*at) < UNCHANGED_AT_MOST_EVERY
        {
            return false;
        }
        self.last = Some((health.clone(), now));
        true
    }
}

pub fn spawn(
    server: Server,
    generation: u64,
    recorders: Recorders,
    keyring: Arc<Keyring>,
    timing: Timing,
    reports: mpsc::Sender<Report>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let report = |seen: Seen| {
            let reports = reports.clone();
            async move {
                let report = Report { server_id: server.id, generation, seen };
                // The monitor is gone: the watcher has nobody to tell.
                reports.send(report).await.is_ok()
            }
        };
        let mut pause = Duration::ZERO;
        loop {
            if !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
            let at = keyring.endpoint(&server).await;
            // A stopped process accepts the connection (the kernel does) and never answers.
            let opened =
                tokio::time::timeout(timing.window, recorders.health_stream(&at, timing.heartbeat))
                    .await;
            let mut beats = match opened {
                Ok(Ok(beats)) => beats,
                Ok(Err(error)) if stream_refused(&error) => {
                    if !report(Seen::CredentialRefused(error.to_string())).await
                        || !probe(&recorders, &keyring, &server, timing, &report).await
                    {
                        return;
                    }
                    pause = Duration::ZERO;
                    continue;
                }
                Ok(Err(error)) => {
                    if !report(Seen::Refused(error.to_string())).await {
                        return;
                    }
                    pause = (pause * 2).clamp(Duration::from_millis(100), timing.retry_at_most);
                    continue;
                }
                Err(_) => {
                    let silence = format!("no answer within {} ms", timing.window.as_millis());
                    if !report(Seen::Refused(silence)).await {
                        return;
                    }
                    pause = (pause * 2).clamp(Duration::from_millis(100), timing.retry_at_most);
                    continue;
                }
            };
            pause = Duration::ZERO;
            let mut news = NewsFilter::default();
            loop {
                let seen = match tokio::time::timeout(timing.window, beats.next()).await {
                    Ok(Some(Ok(health))) => {
                        if !news.worth_reporting(&health, tokio::time::Instant::now()) {
                            continue;
                        }
                        Seen::Beat(health)
                    }
                    Ok(Some(Err(_)) | None) => Seen::Dropped,
                    Err(_silence) => Seen::Silent,
                };
                let ended = !matches!(seen, Seen::Beat(_));
                if !report(seen).await {
                    return;
                }
                if ended {
                    break;
                }
            }
        }
    })
}

/// The agent answers, but not with a stream for this credential (401/403), or has none (404).
fn stream_refused(error: &RecorderError) -> bool {
    matches!(error, RecorderError::Refused { status: 401 | 403 | 404, .. })
}

/// Health checks at the heartbeat's pace (at least every few hundred milliseconds) until it is
/// time to try the stream again; false when the monitor is gone.
async fn probe<F, Fut>(
    recorders: &Recorders,
    keyring: &Keyring,
    server: &Server,
    timing: Timing,
    report: &F,
) -> bool
where
    F: Fn(Seen) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = tokio::time::Instant::now();
    let every = timing.heartbeat.max(Duration::from_millis(250));
    while started.elapsed() < STREAM_RETRY {
        let at = keyring.endpoint(server).await;
        let seen = match recorders.health(&at, timing.check_timeout).await {
            Ok(health) => Seen::Beat(health),
            Err(error) => Seen::Refused(error.to_string()),
        };
        if !report(seen).await {
            return false;
        }
        tokio::time::sleep(every).await;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use agent_api::health::ServerKind;

    fn health(version: u64) -> Health {
        Health {
            name: "rec-1".into(),
            kind: ServerKind::Recorder,
            acting_for: None,
            recording: true,
            settings_version: version,
            load: None,
            capacity: None,
        }
    }

    #[test]
    fn heartbeats_are_reported_when_new_or_a_second_apart() {
        let start = tokio::time::Instant::now();
        let at = |ms| start + Duration::from_millis(ms);
        let mut news = NewsFilter::default();
        assert!(news.worth_reporting(&health(1), at(0)), "the first of a stream");
        assert!(!news.worth_reporting(&health(1), at(250)));
        assert!(!news.worth_reporting(&health(1), at(750)));
        assert!(news.worth_reporting(&health(2), at(800)), "new settings at once");
        assert!(!news.worth_reporting(&health(2), at(1050)));
        assert!(news.worth_reporting(&health(2), at(1800)), "a second after the last report");
        let mut acting = health(2);
        acting.acting_for = Some("rec-9".into());
        assert!(news.worth_reporting(&acting, at(1900)), "a change of what it does");
    }
}
