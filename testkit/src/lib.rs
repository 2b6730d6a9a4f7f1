//! What the server's and the recorder's tests and every benchmark share, once: the real
//! binaries (`standby`, `standby-recorder`) started on loopback and killed with SIGKILL, a site
//! of agents registered with a manager, [`eventually`], the manager's command line (tokens,
//! licence), fresh PostgreSQL databases and the tables the benchmarks print.
//!
//! Everything here drives processes over HTTP and the command line, so it depends on neither
//! `server` nor `recorder` (they depend on it, as a dev-dependency); what needs one of those
//! crates' code (the manager's router in process, the recorder's record framing) stays in that
//! crate's tests.
//!
//! Helpers panic with a sentence saying what was expected: they run in tests and benches,
//! where a panic is the report.

pub mod agent;
pub mod bench;
pub mod binaries;
pub mod http;
pub mod manager;
pub mod netns;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod process;
pub mod site;

pub use agent::Agent;
pub use process::Process;
pub use site::{Monitor, Site};

use std::future::Future;
use std::time::{Duration, Instant};

/// How long anything may take before a test gives up. Generous: this machine is shared, and a
/// test must never fail because it was slow, only because something never happened.
pub const DEADLINE: Duration = Duration::from_secs(90);

/// What a check of [`eventually`] answers: `true`/`false`, or `Some(value)` once it holds.
pub trait Outcome {
    type Value;
    fn value(self) -> Option<Self::Value>;
}

impl Outcome for bool {
    type Value = ();
    fn value(self) -> Option<()> {
        self.then_some(())
    }
}

impl<T> Outcome for Option<T> {
    type Value = T;
    fn value(self) -> Option<T> {
        self
    }
}

/// Polls `check` until it holds (`true`, or `Some(value)`: the value is returned), and panics
/// naming `what` after [`DEADLINE`]. A wait, never a timed assertion.
pub async fn eventually<F, Fut>(what: &str, mut check: F) -> <Fut::Output as Outcome>::Value
where
    F: FnMut() -> Fut,
    Fut: Future,
    Fut::Output: Outcome,
{
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(value) = check().await.value() {
            return value;
        }
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn eventually_returns_what_the_check_found() {
        let mut polls = 0;
        let found = eventually("the third poll", || {
            polls += 1;
            let now = polls;
            async move { (now == 3).then_some(now) }
        })
        .await;
        assert_eq!(found, 3);
        let mut left = 2;
        eventually("a condition", || {
            left -= 1;
            let done = left == 0;
            async move { done }
        })
        .await;
    }
}
