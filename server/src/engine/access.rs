//! Logging in and out, sessions, API tokens and user accounts.

use super::Engine;
use crate::auth::passwords::{self, MIN_PASSWORD_CHARS};
use crate::auth::secrets::{fingerprint, new_secret};
use app::auth::{Caller, Right, Role, Via};
use app::failure::{Failure, FailureKind};
use app::model::{ApiToken, CreatedToken, User};
use chrono::{Duration, Utc};
use std::time::Instant;

/// A session's last use is written at most this often, not on every request.
const TOUCH_EVERY: Duration = Duration::seconds(30);
const TOKEN_PREFIX: &str = "sbt_";

/// A successful login: who, and the cookie value that carries the session.
pub struct Login {
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
    pub async fn login(
        &self,
        name: &str,
        password: &str,
        address: Option<String>,
    ) -> Result<Login, Failure> {
        let from = address.clone().unwrap_or_default();
        let anonymous =
            Caller { name: name.trim().to_owned(), role: Role::Viewer, via: Via::Session, address };
        let result = self.check_password(name, password, &from).await;
        let result = match result {
            Ok(user) => self.open_session(user, anonymous.address.clone()).await,
            Err(failure) => Err(failure),
        };
        self.audited(&anonymous, "login", None, result).await
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

    pub async fn logout(&self, caller: &Caller, secret: &str) -> Result<(), Failure> {
        self.store.delete_session(&fingerprint(secret)).await?;
        self.audited(caller, "logout", None, Ok(())).await
    }

    /// The caller behind a session cookie, if the session is still valid.
    pub async fn session_caller(&self, secret: &str, address: Option<String>) -> Option<Caller> {
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
    pub async fn token_caller(&self, secret: &str, address: Option<String>) -> Option<Caller> {
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

    pub async fn add_user(
        &self,
        caller: &Caller,
        name: &str,
        password: &str,
        role: Role,
    ) -> Result<User, Failure> {
        let target = Some(name.trim().to_owned());
        let result = async {
            caller.require(Right::ManageUsers)?;
            let name = valid_user_name(name)?;
            let hash = hash_password(password).await?;
            Ok(self.store.insert_user(&name, &hash, role).await?)
        }
        .await;
        self.audited(caller, "user.add", target, result).await
    }

    pub async fn users(&self, caller: &Caller) -> Result<Vec<User>, Failure> {
        caller.require(Right::ManageUsers)?;
        Ok(self.store.list_users().await?)
    }

    pub async fn set_password(
        &self,
        caller: &Caller,
        name: &str,
        password: &str,
    ) -> Result<(), Failure> {
        let result = async {
            // Everyone may change their own password; other people's need the right.
            if !caller.name.eq_ignore_ascii_case(name.trim()) || caller.via != Via::Session {
                caller.require(Right::ManageUsers)?;
            }
            let hash = hash_password(password).await?;
            if self.store.set_password(name.trim(), &hash).await? {
                Ok(())
            } else {
                Err(Failure::not_found(format!("User {:?}", name.trim())))
            }
        }
        .await;
        self.audited(caller, "user.passwd", Some(name.trim().to_owned()), result).await
    }

    pub async fn remove_user(&self, caller: &Caller, name: &str) -> Result<(), Failure> {
        let result = async {
            caller.require(Right::ManageUsers)?;
            if self.store.remove_user(name.trim()).await? {
                Ok(())
            } else {
                Err(Failure::not_found(format!("User {:?}", name.trim())))
            }
        }
        .await;
        self.audited(caller, "user.remove", Some(name.trim().to_owned()), result).await
    }

    pub async fn create_token(
        &self,
        caller: &Caller,
        name: &str,
        role: Role,
    ) -> Result<CreatedToken, Failure> {
        let result = async {
            caller.require(Right::ManageTokens)?;
            let name = valid_user_name(name)?;
            let secret = new_secret(TOKEN_PREFIX);
            let token =
                self.store.insert_token(&name, &fingerprint(&secret), role, &caller.name).await?;
            Ok(CreatedToken { token, secret })
        }
        .await;
        self.audited(caller, "token.create", Some(name.trim().to_owned()), result).await
    }

    pub async fn tokens(&self, caller: &Caller) -> Result<Vec<ApiToken>, Failure> {
        caller.require(Right::ManageTokens)?;
        Ok(self.store.list_tokens().await?)
    }

    pub async fn revoke_token(&self, caller: &Caller, id: i64) -> Result<ApiToken, Failure> {
        let result = async {
            caller.require(Right::ManageTokens)?;
            self.store
                .revoke_token(id)
                .await?
                .ok_or_else(|| Failure::not_found(format!("Token {id}")))
        }
        .await;
        self.audited(caller, "token.revoke", Some(id.to_string()), result).await
    }
}

fn valid_user_name(name: &str) -> Result<String, Failure> {
    let name = crate::servers::valid_name(name)?;
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
