//! Slows down password guessing: after a few failures for one user name from one address,
//! every further attempt has to wait longer (doubling, capped).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed before attempts are slowed down.
const FREE_FAILURES: u32 = 3;
const FIRST_WAIT: Duration = Duration::from_secs(1);
const MAX_WAIT: Duration = Duration::from_secs(300);
/// Failures are forgotten after this long without another.
const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);

#[derive(Default)]
pub struct LoginGuard {
    failures: Mutex<HashMap<(String, String), Failures>>,
}

#[derive(Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

impl Failures {
    fn wait(&self) -> Duration {
        match self.count.saturating_sub(FREE_FAILURES) {
            0 => Duration::ZERO,
            extra => FIRST_WAIT.saturating_mul(1 << (extra - 1).min(16)).min(MAX_WAIT),
        }
    }
}

fn key(user: &str, address: &str) -> (String, String) {
    (user.trim().to_lowercase(), address.to_owned())
}

impl LoginGuard {
    /// `Err(wait)` when this user and address must wait before trying again.
    pub fn check(&self, user: &str, address: &str, now: Instant) -> Result<(), Duration> {
        let mut failures = self.failures.lock().unwrap_or_else(|poison| poison.into_inner());
        failures.retain(|_, failure| now.duration_since(failure.last) < FORGET_AFTER);
        match failures.get(&key(user, address)) {
            Some(failure) => {
                let ready = failure.last + failure.wait();
                if now < ready { Err(ready - now) } else { Ok(()) }
            }
            None => Ok(()),
        }
    }

    pub fn failed(&self, user: &str, address: &str, now: Instant) {
        let mut failures = self.failures.lock().unwrap_or_else(|poison| poison.into_inner());
        let entry = failures.entry(key(user, address)).or_insert(Failures { count: 0, last: now });
        entry.count += 1;
        entry.last = now;
    }

    pub fn succeeded(&self, user: &str, address: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|poison| poison.into_inner());
        failures.remove(&key(user, address));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_slow_down_that_user_from_that_address_only() {
        let guard = LoginGuard::default();
        let start = Instant::now();
        for _ in 0..FREE_FAILURES {
            assert_eq!(guard.check("Admin", "10.0.0.1", start), Ok(()));
            guard.failed("admin", "10.0.0.1", start);
        }
        assert_eq!(guard.check("admin", "10.0.0.1", start), Ok(()), "three failures are free");
        guard.failed("admin", "10.0.0.1", start);
        assert_eq!(guard.check("ADMIN", "10.0.0.1", start), Err(Duration::from_secs(1)));
        assert_eq!(guard.check("admin", "10.0.0.2", start), Ok(()), "another address");
        assert_eq!(guard.check("viewer", "10.0.0.1", start), Ok(()), "another user");
        let later = start + Duration::from_secs(1);
        assert_eq!(guard.check("admin", "10.0.0.1", later), Ok(()));
        guard.failed("admin", "10.0.0.1", later);
        assert_eq!(guard.check("admin", "10.0.0.1", later), Err(Duration::from_secs(2)));
        guard.succeeded("admin", "10.0.0.1");
        assert_eq!(guard.check("admin", "10.0.0.1", later), Ok(()));
    }

    #[test]
    fn the_wait_is_capped_and_forgotten() {
        let guard = LoginGuard::default();
        let start = Instant::now();
        for _ in 0..40 {
            guard.failed("admin", "a", start);
        }
        assert_eq!(guard.check("admin", "a", start), Err(MAX_WAIT));
        assert_eq!(guard.check("admin", "a", start + FORGET_AFTER), Ok(()));
    }
}
