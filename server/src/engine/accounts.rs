//! Logging in and out, sessions, API tokens and user accounts.

use super::Engine;
use crate::credentials::SessionPolicy;
use crate::credentials::passwords::{self, MIN_PASSWORD_CHARS};
use crate::credentials::secrets::{fingerprint, new_secret};
use crate::store::{SharedStore, StoreError};
use app::failure::{Failure, FailureKind};
use app::model::{ApiToken, CreatedToken, User};
use app::rights::{Caller, CredentialId, Role, Scope, Via};
use chrono::{Duration, Utc};
use std::time::Instant;

/// A session's last use is written at most this often, not on every request.
const TOUCH_EVERY: Duration = Duration::seconds(30);
const TOKEN_PREFIX: &str = "sbt_";

/// A successful login: who, and the secret the session cookie carries.
pub(super) struct Login {
    pub caller: Caller,
    pub secret: String,
    pub max_age: Duration,
}

fn bad_credentials() -> Failure {
    // The same answer for an unknown user and a wrong password.
    Failure::new(
        FailureKind::Unauthorized,
        "bad_credentials",
        "Unknown user name or wrong password.",
    )
}

/// What a login form's user name is taken as, before it is looked up, counted by the login
/// guard or written to the audit trail (for failed logins too): without control characters,
/// trimmed, and no longer than the longest user name there can be (anything longer names
/// nobody anyway). A 2 MB name costs the trail 100 characters.
pub(super) fn login_name(typed: &str) -> String {
    let clean: String =
        typed.chars().filter(|c| !c.is_control()).take(MAX_LOGIN_NAME_CHARS * 4).collect();
    clean.trim().chars().take(MAX_LOGIN_NAME_CHARS).collect()
}

/// The longest user name `valid_user_name` accepts.
const MAX_LOGIN_NAME_CHARS: usize = super::servers::MAX_NAME_CHARS;

impl Engine {
    pub(super) async fn sign_in(
        &self,
        name: &str,
        password: &str,
        address: Option<String>,
    ) -> Result<Login, Failure> {
        let from = address.clone().unwrap_or_default();
        let user = self.check_password(name, password, &from).await?;
        self.open_session(user, address).await
    }

    async fn check_password(
        &self,
        name: &str,
        password: &str,
        from: &str,
    ) -> Result<User, Failure> {
        if let Err(wait) = self.login_guard.check(name, from, Instant::now()) {
            // Whole seconds, rounded up: trying again at Retry-After must not be early.
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            return Err(Failure::new(
                FailureKind::TooManyRequests,
                "too_many_attempts",
                format!(
                    "Too many failed logins for this user from your address; try again in {} s.",
                    seconds.max(1)
                ),
            )
            .retry_after(seconds.max(1)));
        }
        let found = self.store.credentials(name.trim()).await?;
        let (user, stored) = match found {
            Some((user, hash)) => (Some(user), Some(hash)),
            None => (None, None),
        };
        let matches = passwords::verify(password.to_owned(), stored).await.map_err(|error| {
            tracing::error!(%error, "password verification failed");
            Failure::internal()
        })?;
        match user {
            Some(user) if matches => {
                self.login_guard.succeeded(name, from);
                Ok(user)
            }
            _ => {
                self.login_guard.failed(name, from, Instant::now());
                Err(bad_credentials())
            }
        }
    }

    /// The caller's own current password, before they change it.
    pub(super) async fn confirm_password(
        &self,
        caller: &Caller,
        current: Option<&str>,
    ) -> Result<(), Failure> {
        let Some(current) = current.filter(|current| !current.is_empty()) else {
            return Err(Failure::invalid(
                "current_password",
                "is needed to change your own password.",
            ));
        };
        let from = caller.address.clone().unwrap_or_default();
        match self.check_password(&caller.name, current, &from).await {
            Ok(_) => Ok(()),
            // Not 401: the caller is logged in; only this password was wrong.
            Err(failure) if failure.code == "bad_credentials" => Err(Failure::new(
                FailureKind::Forbidden,
                "wrong_current_password",
                "The current password is not right; the password was not changed.",
            )),
            Err(other) => Err(other),
        }
    }

    async fn open_session(&self, user: User, address: Option<String>) -> Result<Login, Failure> {
        let secret = new_secret("");
        let hash = fingerprint(&secret);
        let now = Utc::now();
        let max_age = self.sessions.absolute;
        self.store.insert_session(&hash, user.id, now, now + max_age).await?;
        tracing::info!(user = %user.name, "logged in");
        let caller = Caller {
            name: user.name,
            role: user.role,
            via: Via::Session,
            address,
            scope: Scope::Full,
            credential: Some(CredentialId::Session(hash)),
        };
        Ok(Login { caller, secret, max_age })
    }

    pub(super) async fn end_session(&self, secret: &str) -> Result<(), Failure> {
        self.store.delete_session(&fingerprint(secret)).await?;
        self.credentials_changed();
        Ok(())
    }

    /// The caller behind a session cookie, if the session is still valid.
    pub(super) async fn session_caller(
        &self,
        secret: &str,
        address: Option<String>,
    ) -> Result<Option<Caller>, StoreError> {
        let hash = fingerprint(secret);
        let Some(user) = session_in_use(&self.store, self.sessions, &hash).await? else {
            return Ok(None);
        };
        Ok(Some(Caller {
            name: user.name,
            role: user.role,
            via: Via::Session,
            address,
            scope: Scope::Full,
            credential: Some(CredentialId::Session(hash)),
        }))
    }

    /// The caller behind an API token, unless it is unknown or revoked.
    pub(super) async fn token_caller(
        &self,
        secret: &str,
        address: Option<String>,
    ) -> Result<Option<Caller>, StoreError> {
        let hash = fingerprint(secret);
        let Some(token) = token_in_use(&self.store, &hash).await? else { return Ok(None) };
        Ok(Some(Caller {
            name: format!("token:{}", token.name),
            role: token.role,
            via: Via::Token,
            address,
            scope: token.scope,
            credential: Some(CredentialId::Token(hash)),
        }))
    }

    /// Tells every open event stream to check its credential now (a session ended, a token
    /// was revoked, a user removed), instead of at its next periodic check.
    pub(super) fn credentials_changed(&self) {
        self.credentials.send_replace(());
    }

    pub(super) async fn insert_user(
        &self,
        name: &str,
        password: &str,
        role: Role,
    ) -> Result<User, Failure> {
        let name = valid_user_name(name)?;
        let hash = hash_password(password).await?;
        Ok(self.store.insert_user(&name, &hash, role).await?)
    }

    pub(super) async fn change_password(&self, name: &str, password: &str) -> Result<(), Failure> {
        let hash = hash_password(password).await?;
        if self.store.set_password(name.trim(), &hash).await? {
            // Their sessions have ended.
            self.credentials_changed();
            Ok(())
        } else {
            Err(Failure::not_found(format!("User {:?}", name.trim())))
        }
    }

    pub(super) async fn delete_user(&self, name: &str) -> Result<(), Failure> {
        if self.store.remove_user(name.trim()).await? {
            self.credentials_changed();
            Ok(())
        } else {
            Err(Failure::not_found(format!("User {:?}", name.trim())))
        }
    }

    pub(super) async fn new_token(
        &self,
        name: &str,
        role: Role,
        scope: Scope,
        created_by: &str,
    ) -> Result<CreatedToken, Failure> {
        let name = valid_user_name(name)?;
        let secret = new_secret(TOKEN_PREFIX);
        let hash = fingerprint(&secret);
        let token = self.store.insert_token(&name, &hash, role, scope, created_by).await?;
        Ok(CreatedToken { token, secret })
    }

    pub(super) async fn revoke(&self, id: i64) -> Result<ApiToken, Failure> {
        let token = self.store.revoke_token(id).await?;
        self.credentials_changed();
        token.ok_or_else(|| Failure::not_found(format!("Token {id}")))
    }
}

/// The user behind a session fingerprint while the session is valid (known, not idle for too
/// long, not past its absolute end); a use is recorded at most every [`TOUCH_EVERY`], so an
/// open event stream keeps its session in use like a page that asks again would.
pub(super) async fn session_in_use(
    store: &SharedStore,
    policy: SessionPolicy,
    hash: &str,
) -> Result<Option<User>, StoreError> {
    let Some(session) = store.session(hash).await? else { return Ok(None) };
    let now = Utc::now();
    if now >= session.expires_at || now - session.last_used_at >= policy.idle {
        let _ = store.delete_session(hash).await;
        return Ok(None);
    }
    if now - session.last_used_at >= TOUCH_EVERY
        && let Err(error) = store.touch_session(hash, now).await
    {
        tracing::warn!(%error, "cannot record a session's use");
    }
    Ok(Some(session.user))
}

/// The API token behind a fingerprint, unless it is unknown or revoked.
pub(super) async fn token_in_use(
    store: &SharedStore,
    hash: &str,
) -> Result<Option<ApiToken>, StoreError> {
    let Some(token) = store.token_by_secret(hash).await? else { return Ok(None) };
    if token.revoked_at.is_some() {
        return Ok(None);
    }
    let now = Utc::now();
    if token.last_used_at.is_none_or(|used| now - used >= TOUCH_EVERY)
        && let Err(error) = store.touch_token(token.id, now).await
    {
        tracing::warn!(%error, "cannot record a token's use");
    }
    Ok(Some(token))
}

/// Whether the credential behind an open event stream would still be accepted.
pub(super) async fn still_accepted(
    store: &SharedStore,
    policy: SessionPolicy,
    credential: &CredentialId,
) -> bool {
    let accepted = match credential {
        CredentialId::Session(hash) => {
            session_in_use(store, policy, hash).await.map(|user| user.is_some())
        }
        CredentialId::Token(hash) => token_in_use(store, hash).await.map(|token| token.is_some()),
    };
    // While the database is away the stream stays open: it is asked again at the next check.
    accepted.unwrap_or_else(|error| {
        tracing::warn!(%error, "an event stream's credential could not be checked now");
        true
    })
}

fn valid_user_name(name: &str) -> Result<String, Failure> {
    let name = super::servers::valid_name(name)?;
    if name.starts_with("token:") {
        return Err(Failure::invalid("name", "must not start with \"token:\"."));
    }
    Ok(name)
}

async fn hash_password(password: &str) -> Result<String, Failure> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(Failure::invalid(
            "password",
            format!("must be at least {MIN_PASSWORD_CHARS} characters."),
        ));
    }
    passwords::hash(password.to_owned()).await.map_err(|error| {
        tracing::error!(%error, "password hashing failed");
        Failure::internal()
    })
}

#[cfg(test)]
mod tests {
    use super::login_name;

    #[test]
    fn login_names_are_cleaned_and_capped() {
        assert_eq!(login_name("  Admin \n"), "Admin");
        assert_eq!(login_name("ad\u{1b}min"), "admin");
        assert_eq!(login_name(&"n".repeat(2_000_000)).chars().count(), 100);
        assert_eq!(login_name(&format!("{}x", " ".repeat(300))), "x");
        // Only so much is looked at: a name behind megabytes of blanks names nobody.
        assert_eq!(login_name(&format!("{}x", " ".repeat(500))), "");
    }
}
