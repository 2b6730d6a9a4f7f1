//! Credentials: password hashing, random secrets (sessions, API tokens), the login guard and
//! how long sessions live. Who may do what (roles and rights) is `app::rights`.

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
