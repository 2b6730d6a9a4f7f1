//! Who may do what: passwords, sessions, API tokens and the login guard. The rights themselves
//! are in `app::auth`; the engine checks them.

pub mod login_guard;
pub mod passwords;
pub mod secrets;

use chrono::Duration;

/// How long sessions live.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    /// A session unused for this long ends.
    pub idle: Duration,
    /// A session ends this long after logging in, used or not.
    pub absolute: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy { idle: Duration::hours(1), absolute: Duration::hours(12) }
    }
}
