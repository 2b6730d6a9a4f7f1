//! The audit trail: every manual action, who, when, from where, and how it ended.

use super::Engine;
use crate::store::NewAudit;
use app::failure::Failure;
use app::rights::Caller;
use chrono::Utc;

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
            Err(failure) => (failure.code.clone(), Some(failure.message.clone())),
        };
        let entry = NewAudit {
            at: Utc::now(),
            actor: caller.name.clone(),
            address: caller.address.clone(),
            action: action.to_owned(),
            target,
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
