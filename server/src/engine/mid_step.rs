//! Failovers and failbacks cut off between two of their steps: by a manager that died (its
//! successor finds them when its term begins) or by a database that went away under a running
//! manager (the leader finds them at its monitor's pace, once the step is older than any step's
//! own waits). Either way each is finished or rolled back, with a note saying why, so no entry
//! stays `failing_over` or `failing_back` until someone restarts the manager.

use super::Engine;
use super::refusal::Refusal;
use app::model::{Failover, FailoverStatus};
use chrono::Utc;

/// What cut the entry's steps short, for its note.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interruption {
    /// Found when a term of leadership began: the manager that ran the steps stopped.
    Restart,
    /// Found by the leader while running: no manager finished the steps in time.
    Stalled,
}

impl Interruption {
    pub(super) fn sentence(self) -> &'static str {
        match self {
            Interruption::Restart => "The manager restarted",
            Interruption::Stalled => {
                "The steps stopped halfway (the manager lost its database, or stopped)"
            }
        }
    }
}

impl Engine {
    /// While this manager leads: the open entries still between two steps longer than the
    /// mid-step timeout after their step began.
    pub(crate) async fn left_mid_step(&self) -> Result<Vec<Failover>, Refusal> {
        if self.leadership.epoch().is_none() {
            return Ok(Vec::new());
        }
        let timeout = chrono::Duration::from_std(self.monitor.mid_step_timeout)
            .unwrap_or(chrono::Duration::MAX);
        let now = Utc::now();
        let stalled = |entry: &Failover| {
            let began = match entry.status {
                FailoverStatus::FailingOver => Some(entry.failover_started_at),
                FailoverStatus::FailingBack => entry.failback_started_at,
                _ => None,
            };
            began.is_some_and(|began| now - began > timeout)
        };
        Ok(self.store.open_failovers().await?.into_iter().filter(stalled).collect())
    }

    /// Finishes the entry's steps or rolls them back, by its status.
    pub(crate) async fn resume(&self, entry: &Failover, why: Interruption) -> Result<(), Refusal> {
        match entry.status {
            FailoverStatus::FailingOver => self.recover_failover(entry, why).await,
            FailoverStatus::FailingBack => self.recover_failback(entry, why).await,
            _ => Ok(()),
        }
    }

    /// When a term of leadership begins: every entry left mid-step, whatever its age.
    pub(super) async fn resume_all(&self) -> Result<(), Refusal> {
        for entry in self.store.open_failovers().await? {
            if let Err(refusal) = self.resume(&entry, Interruption::Restart).await {
                tracing::error!(
                    failover = entry.id,
                    "recovering an interrupted entry failed: {refusal}"
                );
            }
        }
        Ok(())
    }
}
