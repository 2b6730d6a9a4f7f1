//! One vocabulary for why a failover, failback or material copy did not happen: the reason codes
//! of the failover log (the seed's notification reasons) and the sentence shown with them.

use crate::store::StoreError;
use app::failure::{Failure, FailureKind};
use std::fmt;

/// Every reason code the failover log, the REST API and the pages may show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    // Failover.
    NoLicense,
    /// The recorder answered again right before acting.
    OperationCancelled,
    FailoverAlreadyRunning,
    NoFailoverServer,
    NoRecorderSettings,
    NoFailoverServerConnection,
    FailoverServerWrongState,
    InvalidLogState,
    InternalError,
    /// The database is away (a step could not be written): worth trying again soon.
    DatabaseUnavailable,
    /// The database's disk is full.
    DatabaseFull,
    // Failback.
    FailoverNotPerformed,
    FailbackAlreadyPerformed,
    FailbackInProgress,
    ServerWrongState,
    NoRecorderConnection,
    SettingsSavingFailed,
    // Restore.
    /// The failover server still records for the recorder: failback is the way back.
    FailoverServerStillActing,
    // Material copying.
    FailbackNotPerformed,
    AlreadyCopied,
    // Several managers.
    /// Automatic work is the leader's, and this manager's term has ended.
    NotLeader,
}

impl Reason {
    pub const fn code(self) -> &'static str {
        match self {
            Reason::NoLicense => "no_license",
            Reason::OperationCancelled => "operation_cancelled",
            Reason::FailoverAlreadyRunning => "failover_already_running",
            Reason::NoFailoverServer => "no_failover_server",
            Reason::NoRecorderSettings => "no_recorder_settings",
            Reason::NoFailoverServerConnection => "no_failover_server_connection",
            Reason::FailoverServerWrongState => "failover_server_wrong_state",
            Reason::InvalidLogState => "invalid_log_state",
            Reason::InternalError => "internal_error",
            Reason::DatabaseUnavailable => "database_unavailable",
            Reason::DatabaseFull => "database_full",
            Reason::FailoverNotPerformed => "failover_not_performed",
            Reason::FailbackAlreadyPerformed => "failback_already_performed",
            Reason::FailbackInProgress => "failback_in_progress",
            Reason::ServerWrongState => "server_wrong_state",
            Reason::NoRecorderConnection => "no_recorder_connection",
            Reason::SettingsSavingFailed => "settings_saving_failed",
            Reason::FailoverServerStillActing => "failover_server_still_acting",
            Reason::FailbackNotPerformed => "failback_not_performed",
            Reason::AlreadyCopied => "already_copied",
            Reason::NotLeader => "not_leader",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Why something did not happen: a reason and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    pub reason: Reason,
    pub message: String,
}

impl Refusal {
    pub fn new(reason: Reason, message: impl Into<String>) -> Self {
        Refusal { reason, message: message.into() }
    }

    pub fn code(&self) -> &'static str {
        self.reason.code()
    }

    /// A failure inside the manager (most often the database): the cause goes to the log, the
    /// failover log and the user get a sentence without internals.
    pub fn internal(cause: &dyn fmt::Display) -> Self {
        tracing::error!(%cause, "internal error during a failover step");
        Refusal::new(
            Reason::InternalError,
            "The manager could not complete this step (see its log); it is retried or rolled back.",
        )
    }
}

/// A refusal answers the caller with 409 and its reason code (503, to be tried again, when the
/// database was away).
impl From<Refusal> for Failure {
    fn from(refusal: Refusal) -> Self {
        let kind = match refusal.reason {
            Reason::InternalError => FailureKind::Internal,
            Reason::DatabaseUnavailable | Reason::DatabaseFull => {
                return Failure::new(FailureKind::Unavailable, refusal.code(), refusal.message)
                    .retry_after(5);
            }
            _ => FailureKind::Conflict,
        };
        Failure::new(kind, refusal.code(), refusal.message)
    }
}

const DATABASE_UNREACHABLE: &str = "The manager cannot reach its database right now, so nothing was done; it keeps trying. Try again in a moment.";
const DATABASE_FULL: &str = "The manager's database has no space left on its disk, so this change was not made; free space there and try again (what is recorded so far stays readable).";

/// Store errors at the edge: a duplicate name is the caller's to fix; anything else is logged
/// and answered with a sentence without internals.
/// What a caller hears while the database is away: nothing was done, and it is worth trying
/// again soon.
pub fn database_unreachable() -> Failure {
    Failure::new(
        app::failure::FailureKind::Unavailable,
        Reason::DatabaseUnavailable.code(),
        DATABASE_UNREACHABLE,
    )
    .retry_after(5)
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Duplicate { what, name } => Failure::conflict(
                "duplicate_name",
                format!("A {what} named {name:?} already exists; choose another name."),
            ),
            StoreError::LastAdmin => Failure::conflict(
                "last_admin",
                "This is the last administrator: add another administrator first, so someone \
                 can still manage users, servers and the licence.",
            ),
            other if other.is_disk_full() => {
                tracing::error!(error = %other, "the database's disk is full");
                Failure::new(
                    app::failure::FailureKind::Unavailable,
                    Reason::DatabaseFull.code(),
                    DATABASE_FULL,
                )
                .retry_after(5)
            }
            other if other.is_unreachable() => {
                tracing::warn!(error = %other, "the database is not reachable");
                database_unreachable()
            }
            other => {
                tracing::error!(error = %other, "store failure");
                Failure::internal()
            }
        }
    }
}

/// A step's store error: the database away or full is said so (the step is retried or rolled
/// back once it is back); anything else is internal.
impl From<StoreError> for Refusal {
    fn from(error: crate::store::StoreError) -> Self {
        if error.is_disk_full() {
            tracing::error!(%error, "the database's disk is full during a failover step");
            return Refusal::new(Reason::DatabaseFull, DATABASE_FULL);
        }
        if error.is_unreachable() {
            tracing::warn!(%error, "the database is not reachable during a failover step");
            return Refusal::new(Reason::DatabaseUnavailable, DATABASE_UNREACHABLE);
        }
        Refusal::internal(&error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_errors_never_reach_the_sentence() {
        let error = StoreError::Corrupt("secret table name".into());
        let refusal = Refusal::from(error);
        assert_eq!(refusal.reason, Reason::InternalError);
        assert!(!refusal.message.contains("secret"), "{}", refusal.message);
        let failure = Failure::from(refusal);
        assert_eq!(failure.kind, FailureKind::Internal);
    }

    #[test]
    fn a_step_without_its_database_is_unavailable_not_internal() {
        let refusal = Refusal::from(StoreError::Database(sqlx::Error::PoolTimedOut));
        assert_eq!(refusal.reason, Reason::DatabaseUnavailable);
        let failure = Failure::from(refusal);
        assert_eq!(
            (failure.kind.http_status(), failure.code.as_str()),
            (503, "database_unavailable")
        );
    }

    #[test]
    fn refusals_are_conflicts_with_their_code() {
        let failure = Failure::from(Refusal::new(Reason::FailbackInProgress, "Busy."));
        assert_eq!(failure.kind.http_status(), 409);
        assert_eq!(failure.code, "failback_in_progress");
    }
}
