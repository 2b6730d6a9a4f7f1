//! What the engine does about what the health monitor observes: a silent recorder is failed
//! over, a repaired one failed back once it has answered for the hold-down period, and material
//! copies under way are followed at the monitor's pace. Each runs in the background, one at a
//! time per recorder, so a slow one never holds up the next round.

use super::Engine;
use crate::monitor::Observer;
use app::model::Server;
use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub struct Reactions {
    engine: Arc<Engine>,
    /// Recorders with a failover or failback under way (one at a time per recorder; the
    /// database guards against other managers).
    busy: Arc<Mutex<HashSet<i64>>>,
    /// A material-copy follow-up round is under way.
    syncing: Arc<AtomicBool>,
}

impl Reactions {
    pub fn new(engine: Arc<Engine>) -> Self {
        Reactions { engine, busy: Arc::default(), syncing: Arc::default() }
    }

    fn exclusively(&self, recorder_id: i64, work: impl Future<Output = ()> + Send + 'static) {
        if !self.busy.lock().unwrap_or_else(|poison| poison.into_inner()).insert(recorder_id) {
            return;
        }
        let busy = self.busy.clone();
        tokio::spawn(async move {
            work.await;
            busy.lock().unwrap_or_else(|poison| poison.into_inner()).remove(&recorder_id);
        });
    }
}

impl Observer for Reactions {
    fn silent(&self, recorder: Server) {
        let engine = self.engine.clone();
        self.exclusively(recorder.id, async move {
            if let Err(refusal) = engine.fail_over(&recorder).await {
                tracing::error!(recorder = %recorder.name, "failover failed: {refusal}");
            }
        });
    }

    fn answering(&self, recorder: Server, since: Instant) {
        let engine = &self.engine;
        if since.elapsed() < engine.monitor.failback_hold_down
            || !recorder.auto_failback
            || recorder.maintenance_mode
        {
            return;
        }
        let engine = engine.clone();
        self.exclusively(recorder.id, async move {
            match engine.automatic_failback(&recorder).await {
                Ok(Some(answer)) => {
                    tracing::info!(recorder = %recorder.name, duration_ms = answer.duration_ms, "automatic failback performed")
                }
                Ok(None) => {}
                Err(refusal) => {
                    tracing::warn!(recorder = %recorder.name, "automatic failback refused: {refusal}")
                }
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
    }
}
