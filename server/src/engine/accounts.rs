//! Logging in and out, sessions, API tokens and user accounts.

use super::Engine;
use crate::credentials::passwords::{self, MIN_PASSWORD_CHARS};
use crate::credentials::secrets::{fingerprint, new_secret};
use app::failure::{Failure, FailureKind};
use app::model::{ApiToken, CreatedToken, User};
use app::rights::{Caller, Role, Via};
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
            return Err(Failure::new(
                FailureKind::TooManyRequests,
                "too_many_attempts",
                format!(
                    "Too many failed logins for this user from your address; try again in {} s.",
                    wait.as_secs().max(1)
                ),
            ));
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

    async fn open_session(&self, user: User, address: Option<String>) -> Result<Login, Failure> {
        let secret = new_secret("");
        let now = Utc::now();
        let max_age = self.sessions.absolute;
        self.store.insert_session(&fingerprint(&secret), user.id, now, now + max_age).await?;
        tracing::info!(user = %user.name, "logged in");
        let caller = Caller { name: user.name, role: user.role, via: Via::Session, address };
        Ok(Login { caller, secret, max_age })
    }

    pub(super) async fn end_session(&self, secret: &str) -> Result<(), Failure> {
        Ok(self.store.delete_session(&fingerprint(secret)).await?)
    }

    /// The caller behind a session cookie, if the session is still valid.
    pub(super) async fn session_caller(
        &self,
        secret: &str,
        address: Option<String>,
    ) -> Option<Caller> {
        let hash = fingerprint(secret);
        let session = match self.store.session(&hash).await {
            Ok(session) => session?,
            Err(error) => {
                tracing::error!(%error, "cannot read a session");
                return None;
            }
        };
        let now = Utc::now();
        if now >= session.expires_at || now - session.last_used_at >= self.sessions.idle {
            let _ = self.store.delete_session(&hash).await;
            return None;
        }
        if now - session.last_used_at >= TOUCH_EVERY
            && let Err(error) = self.store.touch_session(&hash, now).await
        {
            tracing::warn!(%error, "cannot record a session's use");
        }
        let user = session.user;
        Some(Caller { name: user.name, role: user.role, via: Via::Session, address })
    }

    /// The caller behind an API token, unless it is unknown or revoked.
    pub(super) async fn token_caller(
        &self,
        secret: &str,
        address: Option<String>,
    ) -> Option<Caller> {
        let token = match self.store.token_by_secret(&fingerprint(secret)).await {
            Ok(token) => token?,
            Err(error) => {
                tracing::error!(%error, "cannot read an API token");
                return None;
            }
        };
        if token.revoked_at.is_some() {
            return None;
        }
        let now = Utc::now();
        if token.last_used_at.is_none_or(|used| now - used >= TOUCH_EVERY)
            && let Err(error) = self.store.touch_token(token.id, now).await
        {
            tracing::warn!(%error, "cannot record a token's use");
        }
        Some(Caller {
            name: format!("token:{}", token.name),
            role: token.role,
            via: Via::Token,
            address,
        })
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
            Ok(())
        } else {
            Err(Failure::not_found(format!("User {:?}", name.trim())))
        }
    }

    pub(super) async fn delete_user(&self, name: &str) -> Result<(), Failure> {
        if self.store.remove_user(name.trim()).await? {
            Ok(())
        } else {
            Err(Failure::not_found(format!("User {:?}", name.trim())))
        }
    }

    pub(super) async fn new_token(
        &self,
        name: &str,
        role: Role,
        created_by: &str,
    ) -> Result<CreatedToken, Failure> {
        let name = valid_user_name(name)?;
        let secret = new_secret(TOKEN_PREFIX);
        let token = self.store.insert_token(&name, &fingerprint(&secret), role, created_by).await?;
        Ok(CreatedToken { token, secret })
    }

    pub(super) async fn revoke(&self, id: i64) -> Result<ApiToken, Failure> {
        self.store.revoke_token(id).await?.ok_or_else(|| Failure::not_found(format!("Token {id}")))
    }
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
