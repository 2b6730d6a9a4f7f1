//! What the engine does about what the health monitor observes: a silent recorder is failed
//! over, a repaired one failed back once it has answered for the hold-down period, and material
//! copies under way are followed at the monitor's pace. Each runs in the background, one at a
//! time per recorder, so a slow one never holds up the next round.

use super::Engine;
use super::failover::Cause;
use super::mid_step::Interruption;
use crate::monitor::Observer;
use app::model::Server;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// After an automatic failback was refused, the first retry waits this long…
const FAILBACK_RETRY_FIRST: Duration = Duration::from_secs(1);
/// …and each further one twice as long as the last, up to this: a recorder that keeps refusing
/// (its agent reinstalled with another secret, a full disk) costs an attempt, a note in its
/// entry and an alert every few minutes, not every monitor round.
const FAILBACK_RETRY_MOST: Duration = Duration::from_secs(300);

/// When an automatic failback that was refused may be tried again, and why it was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Retry {
    at: Instant,
    wait: Duration,
    reason: String,
}

impl Retry {
    /// The retry after a refusal for `reason`, following `previous` (if there was one).
    fn after(previous: Option<&Retry>, reason: String, now: Instant) -> Retry {
        let wait = previous
            .map_or(FAILBACK_RETRY_FIRST, |previous| (previous.wait * 2).min(FAILBACK_RETRY_MOST));
        Retry { at: now + wait, wait, reason }
    }
}

pub struct Reactions {
    engine: Arc<Engine>,
    /// Servers with work under way: a recorder's failover or failback, a failover server's
    /// check of what it acts for (one at a time each; the database guards against other
    /// managers).
    busy: Arc<Mutex<HashSet<i64>>>,
    /// A material-copy follow-up round is under way.
    syncing: Arc<AtomicBool>,
    /// A look for entries left mid-step is under way.
    looking: Arc<AtomicBool>,
    /// A check of the site's coverage is under way.
    checking: Arc<AtomicBool>,
    /// Broken recorders whose return is noted in their active entry.
    noted_back: Arc<Mutex<HashSet<i64>>>,
    /// Recorders whose automatic failback was refused, and when to try again.
    failback_retries: Arc<Mutex<HashMap<i64, Retry>>>,
}

impl Reactions {
    pub fn new(engine: Arc<Engine>) -> Self {
        Reactions {
            engine,
            busy: Arc::default(),
            syncing: Arc::default(),
            looking: Arc::default(),
            checking: Arc::default(),
            noted_back: Arc::default(),
            failback_retries: Arc::default(),
        }
    }

    fn exclusively(&self, recorder_id: i64, work: impl Future<Output = ()> + Send + 'static) {
        exclusively(&self.busy, recorder_id, work);
    }
}

/// Runs `work` in the background unless other work for the server is under way.
fn exclusively(
    busy: &Arc<Mutex<HashSet<i64>>>,
    server_id: i64,
    work: impl Future<Output = ()> + Send + 'static,
) {
    if !busy.lock().unwrap_or_else(|poison| poison.into_inner()).insert(server_id) {
        return;
    }
    let busy = busy.clone();
    tokio::spawn(async move {
        work.await;
        busy.lock().unwrap_or_else(|poison| poison.into_inner()).remove(&server_id);
    });
}

impl Reactions {
    /// Once per broken recorder's return (asked again while it is not noted).
    fn note_back(&self, recorder: &Server) {
        if !self.noted_back.lock().unwrap_or_else(|poison| poison.into_inner()).insert(recorder.id)
        {
            return;
        }
        let (engine, noted, recorder) =
            (self.engine.clone(), self.noted_back.clone(), recorder.clone());
        tokio::spawn(async move {
            let outcome = engine.note_recorder_back(&recorder).await;
            if !matches!(outcome, Ok(Some(_))) {
                // Not noted now (no answer, an error): asked again at the next round.
                noted.lock().unwrap_or_else(|poison| poison.into_inner()).remove(&recorder.id);
            }
            if let Err(failure) = outcome {
                tracing::warn!(recorder = %recorder.name, "the recorder's return was not noted: {}", failure.message);
            }
        });
    }
}

impl Observer for Reactions {
    fn silent(&self, recorder: Server) {
        // A new outage: its return is to be noted again, and failed back as soon as it may.
        self.noted_back.lock().unwrap_or_else(|poison| poison.into_inner()).remove(&recorder.id);
        self.failback_retries
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .remove(&recorder.id);
        let engine = self.engine.clone();
        self.exclusively(recorder.id, async move {
            if let Err(refusal) = engine.fail_over(&recorder, Cause::Silent).await {
                tracing::error!(recorder = %recorder.name, "failover failed: {refusal}");
            }
        });
    }

    fn answering(&self, recorder: Server, since: Instant) {
        self.note_back(&recorder);
        let engine = &self.engine;
        if since.elapsed() < engine.monitor.failback_hold_down
            || !recorder.auto_failback
            || recorder.maintenance_mode
        {
            return;
        }
        let retries = self.failback_retries.clone();
        let waiting = retries
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .get(&recorder.id)
            .is_some_and(|retry| Instant::now() < retry.at);
        if waiting {
            return;
        }
        let engine = engine.clone();
        self.exclusively(recorder.id, async move {
            let outcome = engine.automatic_failback(&recorder).await;
            let mut retries = retries.lock().unwrap_or_else(|poison| poison.into_inner());
            match outcome {
                Ok(Some(answer)) => {
                    retries.remove(&recorder.id);
                    tracing::info!(recorder = %recorder.name, duration_ms = answer.duration_ms, "automatic failback performed")
                }
                Ok(None) => {
                    retries.remove(&recorder.id);
                }
                Err(refusal) => {
                    let previous = retries.get(&recorder.id);
                    let again = previous.is_some_and(|previous| previous.reason == refusal.message);
                    let retry = Retry::after(previous, refusal.message.clone(), Instant::now());
                    // Said once per reason; the retries after it are quiet in the log.
                    if again {
                        tracing::debug!(recorder = %recorder.name, retry_in_s = retry.wait.as_secs(), "automatic failback refused again: {refusal}");
                    } else {
                        tracing::warn!(recorder = %recorder.name, retry_in_s = retry.wait.as_secs(), "automatic failback refused: {refusal}");
                    }
                    retries.insert(recorder.id, retry);
                }
            }
        });
    }

    fn failover_server_lost(&self, server: Server, recorder: Server) {
        let engine = self.engine.clone();
        self.exclusively(recorder.id, async move {
            if let Err(refusal) = engine.failover_server_lost(&server, &recorder).await {
                tracing::error!(recorder = %recorder.name, failover_server = %server.name, "the recorder's failover did not move on: {refusal}");
            }
        });
    }

    fn acting(&self, server: Server, recorder: String) {
        let engine = self.engine.clone();
        self.exclusively(server.id, async move {
            if let Err(refusal) = engine.acting_unclaimed(&server, &recorder).await {
                tracing::warn!(failover_server = %server.name, "cannot check what the failover server acts for: {refusal}");
            }
        });
    }

    fn round_done(&self) {
        if self.syncing.swap(true, Ordering::AcqRel) {
            return;
        }
        let (engine, syncing) = (self.engine.clone(), self.syncing.clone());
        tokio::spawn(async move {
            if let Err(refusal) = engine.sync_material_copies().await {
                tracing::warn!("material copy states not synchronised: {refusal}");
            }
            syncing.store(false, Ordering::Release);
        });
        self.resume_left_mid_step();
        self.check_coverage();
    }
}

impl Reactions {
    /// Readiness of every recorder, so pages and alerts hear of a recorder no longer covered
    /// before it fails, not after.
    fn check_coverage(&self) {
        if self.checking.swap(true, Ordering::AcqRel) {
            return;
        }
        let (engine, checking) = (self.engine.clone(), self.checking.clone());
        tokio::spawn(async move {
            if let Err(failure) = engine.check_coverage().await {
                tracing::warn!("coverage not checked: {}", failure.message);
            }
            checking.store(false, Ordering::Release);
        });
    }

    /// Entries whose steps stopped halfway (a database outage cut them, or a manager died):
    /// each finished or rolled back, unless this manager is still working on its recorder.
    fn resume_left_mid_step(&self) {
        if self.looking.swap(true, Ordering::AcqRel) {
            return;
        }
        let (engine, looking, busy) =
            (self.engine.clone(), self.looking.clone(), self.busy.clone());
        tokio::spawn(async move {
            match engine.left_mid_step().await {
                Ok(entries) => {
                    for entry in entries {
                        let engine = engine.clone();
                        exclusively(&busy, entry.recorder.id, async move {
                            if let Err(refusal) = engine.resume(&entry, Interruption::Stalled).await
                            {
                                tracing::error!(
                                    failover = entry.id,
                                    "an entry left mid-step was not resumed: {refusal}"
                                );
                            }
                        });
                    }
                }
                Err(refusal) => tracing::warn!("cannot look for entries left mid-step: {refusal}"),
            }
            looking.store(false, Ordering::Release);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_failbacks_are_retried_ever_later_up_to_five_minutes() {
        let now = Instant::now();
        let mut retry = Retry::after(None, "refused".into(), now);
        let mut waits = vec![retry.wait.as_secs()];
        for _ in 0..12 {
            retry = Retry::after(Some(&retry), "refused".into(), now);
            waits.push(retry.wait.as_secs());
        }
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300, 300]);
        assert_eq!(retry.at, now + FAILBACK_RETRY_MOST);
    }
}
