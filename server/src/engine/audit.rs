//! The audit trail: every manual action, who, when, from where, and how it ended.

use super::Engine;
use crate::store::NewAudit;
use app::failure::Failure;
use app::rights::Caller;
use chrono::Utc;

/// The trail is append-only and cannot be pruned, so what a caller can put into it is bounded:
/// whatever they send (a login name, a path segment, an error quoting their input) is cut to
/// these lengths and loses its control characters (no terminal escapes or fake lines).
const MAX_ACTOR_CHARS: usize = 100;
const MAX_TARGET_CHARS: usize = 200;
const MAX_DETAIL_CHARS: usize = 1000;

/// `text` without control characters, cut to `max` characters (the last one `…` when cut).
pub(crate) fn bounded(text: &str, max: usize) -> String {
    let mut clean = text.chars().filter(|c| !c.is_control());
    let mut kept: String = clean.by_ref().take(max).collect();
    if clean.next().is_some() {
        kept.pop();
        kept.push('…');
    }
    kept
}

impl Engine {
    /// Records the outcome of an action and passes the result through.
    pub(super) async fn audited<T>(
        &self,
        caller: &Caller,
        action: &str,
        target: Option<String>,
        result: Result<T, Failure>,
    ) -> Result<T, Failure> {
        let (outcome, detail) = match &result {
            Ok(_) => ("ok".to_owned(), None),
            Err(failure) => {
                (bounded(&failure.code, 100), Some(bounded(&failure.message, MAX_DETAIL_CHARS)))
            }
        };
        let entry = NewAudit {
            at: Utc::now(),
            actor: bounded(&caller.name, MAX_ACTOR_CHARS),
            address: caller.address.as_deref().map(|address| bounded(address, 100)),
            action: action.to_owned(),
            target: target.as_deref().map(|target| bounded(target, MAX_TARGET_CHARS)),
            outcome,
            detail,
        };
        if let Err(error) = self.store.append_audit(&entry).await {
            // The action happened (or was refused) either way; losing its trace is logged loudly.
            tracing::error!(%error, action, actor = %caller.name, "cannot write the audit trail");
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::bounded;

    #[test]
    fn audited_text_is_bounded_and_clean() {
        assert_eq!(bounded("admin", 100), "admin");
        assert_eq!(bounded("ev\u{1b}[1mil\r\nline", 100), "ev[1milline");
        assert_eq!(bounded(&"x".repeat(5), 5), "xxxxx");
        assert_eq!(bounded(&"x".repeat(6), 5), "xxxx…");
        assert_eq!(bounded(&"ä".repeat(1_000_000), 100).chars().count(), 100);
    }
}
