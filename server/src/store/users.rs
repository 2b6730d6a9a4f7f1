//! Users, sessions and API tokens: SQL shared by both databases and the one implementation of
//! [`UserStore`] that both backends instantiate.

use super::StoreError;
use app::model::{ApiToken, User};
use app::rights::{Role, Scope};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// A session as found by its cookie.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    pub user: User,
    pub last_used_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    async fn insert_user(
        &self,
        name: &str,
        password_hash: &str,
        role: Role,
    ) -> Result<User, StoreError>;
    /// The user and their password hash, for logging in.
    async fn credentials(&self, name: &str) -> Result<Option<(User, String)>, StoreError>;
    async fn list_users(&self) -> Result<Vec<User>, StoreError>;
    /// Also ends the user's sessions. False when there is no such user.
    async fn set_password(&self, name: &str, password_hash: &str) -> Result<bool, StoreError>;
    /// Refused with [`StoreError::LastAdmin`] when it would leave no administrator.
    async fn set_role(&self, name: &str, role: Role) -> Result<bool, StoreError>;
    /// Refused with [`StoreError::LastAdmin`] for the last administrator.
    async fn remove_user(&self, name: &str) -> Result<bool, StoreError>;

    async fn insert_session(
        &self,
        secret_hash: &str,
        user_id: i64,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    async fn session(&self, secret_hash: &str) -> Result<Option<SessionRecord>, StoreError>;
    async fn touch_session(&self, secret_hash: &str, now: DateTime<Utc>) -> Result<(), StoreError>;
    async fn delete_session(&self, secret_hash: &str) -> Result<(), StoreError>;

    async fn insert_token(
        &self,
        name: &str,
        secret_hash: &str,
        role: Role,
        scope: Scope,
        created_by: &str,
    ) -> Result<ApiToken, StoreError>;
    async fn token_by_secret(&self, secret_hash: &str) -> Result<Option<ApiToken>, StoreError>;
    async fn touch_token(&self, id: i64, now: DateTime<Utc>) -> Result<(), StoreError>;
    async fn list_tokens(&self) -> Result<Vec<ApiToken>, StoreError>;
    /// Revoking twice keeps the first time. `None` when there is no such token.
    async fn revoke_token(&self, id: i64) -> Result<Option<ApiToken>, StoreError>;
}

pub const INSERT_USER: &str = "\
    INSERT INTO users (name, password_hash, role, created_at) VALUES ($1, $2, $3, $4) \
    RETURNING id, name, role, created_at";
pub const CREDENTIALS: &str = "\
    SELECT u.id, u.name, u.role, u.created_at, u.password_hash FROM users u \
    WHERE lower(u.name) = lower($1)";
pub const LIST_USERS: &str =
    "SELECT u.id, u.name, u.role, u.created_at FROM users u ORDER BY u.name";
pub const SET_PASSWORD: &str = "UPDATE users SET password_hash = $2 WHERE lower(name) = lower($1)";
pub const SET_ROLE: &str = "UPDATE users SET role = $2 WHERE lower(name) = lower($1)";
pub const REMOVE_USER: &str = "DELETE FROM users WHERE lower(name) = lower($1)";
/// Taken first by whatever may take away an administrator: a write on every admin row locks
/// them (PostgreSQL row locks; SQLite's one writer), so two administrators removing each
/// other at the same time cannot both see "another admin is left".
pub const LOCK_ADMINS: &str = "UPDATE users SET role = role WHERE role = 'admin'";
pub const COUNT_ADMINS: &str = "SELECT COUNT(*) FROM users WHERE role = 'admin'";
pub const USER_ROLE: &str = "SELECT role FROM users WHERE lower(name) = lower($1)";
/// Sessions end with the password they were opened with.
pub const END_USER_SESSIONS: &str = "\
    DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE lower(name) = lower($1))";

pub const INSERT_SESSION: &str = "\
    INSERT INTO sessions (secret_hash, user_id, created_at, last_used_at, expires_at) \
    VALUES ($1, $2, $3, $3, $4)";
pub const SESSION: &str = "\
    SELECT u.id, u.name, u.role, u.created_at, s.last_used_at, s.expires_at \
    FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.secret_hash = $1";
pub const TOUCH_SESSION: &str = "UPDATE sessions SET last_used_at = $2 WHERE secret_hash = $1";
pub const DELETE_SESSION: &str = "DELETE FROM sessions WHERE secret_hash = $1";
pub const DELETE_EXPIRED_SESSIONS: &str = "DELETE FROM sessions WHERE expires_at <= $1";

pub const TOKEN_COLUMNS: &str = "SELECT id, name, role, scope, created_by, created_at, \
    last_used_at, revoked_at FROM api_tokens";
pub const INSERT_TOKEN: &str = "\
    INSERT INTO api_tokens (name, secret_hash, role, scope, created_by, created_at) \
    VALUES ($1, $2, $3, $4, $5, $6) \
    RETURNING id, name, role, scope, created_by, created_at, last_used_at, revoked_at";
pub const TOUCH_TOKEN: &str = "UPDATE api_tokens SET last_used_at = $2 WHERE id = $1";
pub const REVOKE_TOKEN: &str = "\
    UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1 \
    RETURNING id, name, role, scope, created_by, created_at, last_used_at, revoked_at";

fn role(text: &str) -> Result<Role, StoreError> {
    Role::parse(text).ok_or_else(|| StoreError::Corrupt(format!("role {text:?}")))
}

#[derive(Debug, sqlx::FromRow)]
pub struct UserRow {
    pub id: i64,
    pub name: String,
    pub role: String,
    pub created_at: DateTime<Utc>,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;

    fn try_from(row: UserRow) -> Result<Self, StoreError> {
        Ok(User { id: row.id, name: row.name, role: role(&row.role)?, created_at: row.created_at })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub struct CredentialsRow {
    #[sqlx(flatten)]
    pub user: UserRow,
    pub password_hash: String,
}

#[derive(Debug, sqlx::FromRow)]
pub struct SessionRow {
    #[sqlx(flatten)]
    pub user: UserRow,
    pub last_used_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, sqlx::FromRow)]
pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub role: String,
    pub scope: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl TryFrom<TokenRow> for ApiToken {
    type Error = StoreError;

    fn try_from(row: TokenRow) -> Result<Self, StoreError> {
        Ok(ApiToken {
            id: row.id,
            name: row.name,
            role: role(&row.role)?,
            scope: Scope::parse(&row.scope)
                .ok_or_else(|| StoreError::Corrupt(format!("token scope {:?}", row.scope)))?,
            created_by: row.created_by,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
            revoked_at: row.revoked_at,
        })
    }
}

/// Implements [`UserStore`] for a store whose `pool` field is its database's sqlx pool.
macro_rules! impl_user_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::UserStore for $store {
            async fn insert_user(
                &self,
                name: &str,
                password_hash: &str,
                role: app::rights::Role,
            ) -> Result<app::model::User, $crate::store::StoreError> {
                let row = sqlx::query_as::<_, $crate::store::users::UserRow>(
                    $crate::store::users::INSERT_USER,
                )
                .bind(name)
                .bind(password_hash)
                .bind(role.as_str())
                .bind(chrono::Utc::now())
                .fetch_all(&self.pool)
                .await
                .map_err(|error| $crate::store::rows::duplicate(error, "user", name))
                .and_then($crate::store::rows::first)?;
                app::model::User::try_from(row)
            }

            async fn credentials(
                &self,
                name: &str,
            ) -> Result<Option<(app::model::User, String)>, $crate::store::StoreError> {
                let row = sqlx::query_as::<_, $crate::store::users::CredentialsRow>(
                    $crate::store::users::CREDENTIALS,
                )
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
                row.map(|row| Ok((app::model::User::try_from(row.user)?, row.password_hash)))
                    .transpose()
            }

            async fn list_users(&self) -> Result<Vec<app::model::User>, $crate::store::StoreError> {
                let rows = sqlx::query_as::<_, $crate::store::users::UserRow>(
                    $crate::store::users::LIST_USERS,
                )
                .fetch_all(&self.pool)
                .await?;
                $crate::store::rows::all(rows)
            }

            async fn set_password(
                &self,
                name: &str,
                password_hash: &str,
            ) -> Result<bool, $crate::store::StoreError> {
                let mut tx = self.pool.begin().await?;
                let done = sqlx::query($crate::store::users::SET_PASSWORD)
                    .bind(name)
                    .bind(password_hash)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query($crate::store::users::END_USER_SESSIONS)
                    .bind(name)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(done.rows_affected() > 0)
            }

            async fn set_role(
                &self,
                name: &str,
                role: app::rights::Role,
            ) -> Result<bool, $crate::store::StoreError> {
                let mut tx = self.pool.begin().await?;
                sqlx::query($crate::store::users::LOCK_ADMINS).execute(&mut *tx).await?;
                let Some(was) = sqlx::query_scalar::<_, String>($crate::store::users::USER_ROLE)
                    .bind(name)
                    .fetch_optional(&mut *tx)
                    .await?
                else {
                    return Ok(false);
                };
                if was == "admin" && role != app::rights::Role::Admin {
                    let admins: i64 = sqlx::query_scalar($crate::store::users::COUNT_ADMINS)
                        .fetch_one(&mut *tx)
                        .await?;
                    if admins <= 1 {
                        return Err($crate::store::StoreError::LastAdmin);
                    }
                }
                sqlx::query($crate::store::users::SET_ROLE)
                    .bind(name)
                    .bind(role.as_str())
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn remove_user(&self, name: &str) -> Result<bool, $crate::store::StoreError> {
                let mut tx = self.pool.begin().await?;
                sqlx::query($crate::store::users::LOCK_ADMINS).execute(&mut *tx).await?;
                let Some(role) = sqlx::query_scalar::<_, String>($crate::store::users::USER_ROLE)
                    .bind(name)
                    .fetch_optional(&mut *tx)
                    .await?
                else {
                    return Ok(false);
                };
                if role == "admin" {
                    let admins: i64 = sqlx::query_scalar($crate::store::users::COUNT_ADMINS)
                        .fetch_one(&mut *tx)
                        .await?;
                    if admins <= 1 {
                        return Err($crate::store::StoreError::LastAdmin);
                    }
                }
                sqlx::query($crate::store::users::REMOVE_USER).bind(name).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn insert_session(
                &self,
                secret_hash: &str,
                user_id: i64,
                now: chrono::DateTime<chrono::Utc>,
                expires_at: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), $crate::store::StoreError> {
                sqlx::query($crate::store::users::DELETE_EXPIRED_SESSIONS)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                sqlx::query($crate::store::users::INSERT_SESSION)
                    .bind(secret_hash)
                    .bind(user_id)
                    .bind(now)
                    .bind(expires_at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn session(
                &self,
                secret_hash: &str,
            ) -> Result<Option<$crate::store::SessionRecord>, $crate::store::StoreError> {
                let row = sqlx::query_as::<_, $crate::store::users::SessionRow>(
                    $crate::store::users::SESSION,
                )
                .bind(secret_hash)
                .fetch_optional(&self.pool)
                .await?;
                row.map(|row| {
                    Ok($crate::store::SessionRecord {
                        user: app::model::User::try_from(row.user)?,
                        last_used_at: row.last_used_at,
                        expires_at: row.expires_at,
                    })
                })
                .transpose()
            }

            async fn touch_session(
                &self,
                secret_hash: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), $crate::store::StoreError> {
                sqlx::query($crate::store::users::TOUCH_SESSION)
                    .bind(secret_hash)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn delete_session(
                &self,
                secret_hash: &str,
            ) -> Result<(), $crate::store::StoreError> {
                sqlx::query($crate::store::users::DELETE_SESSION)
                    .bind(secret_hash)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn insert_token(
                &self,
                name: &str,
                secret_hash: &str,
                role: app::rights::Role,
                scope: app::rights::Scope,
                created_by: &str,
            ) -> Result<app::model::ApiToken, $crate::store::StoreError> {
                let row = sqlx::query_as::<_, $crate::store::users::TokenRow>(
                    $crate::store::users::INSERT_TOKEN,
                )
                .bind(name)
                .bind(secret_hash)
                .bind(role.as_str())
                .bind(scope.as_str())
                .bind(created_by)
                .bind(chrono::Utc::now())
                .fetch_all(&self.pool)
                .await
                .map_err(|error| $crate::store::rows::duplicate(error, "token", name))
                .and_then($crate::store::rows::first)?;
                app::model::ApiToken::try_from(row)
            }

            async fn token_by_secret(
                &self,
                secret_hash: &str,
            ) -> Result<Option<app::model::ApiToken>, $crate::store::StoreError> {
                let sql = format!("{} WHERE secret_hash = $1", $crate::store::users::TOKEN_COLUMNS);
                let row = sqlx::query_as::<_, $crate::store::users::TokenRow>(&sql)
                    .bind(secret_hash)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(app::model::ApiToken::try_from).transpose()
            }

            async fn touch_token(
                &self,
                id: i64,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), $crate::store::StoreError> {
                sqlx::query($crate::store::users::TOUCH_TOKEN)
                    .bind(id)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn list_tokens(
                &self,
            ) -> Result<Vec<app::model::ApiToken>, $crate::store::StoreError> {
                let sql = format!("{} ORDER BY name", $crate::store::users::TOKEN_COLUMNS);
                let rows = sqlx::query_as::<_, $crate::store::users::TokenRow>(&sql)
                    .fetch_all(&self.pool)
                    .await?;
                $crate::store::rows::all(rows)
            }

            async fn revoke_token(
                &self,
                id: i64,
            ) -> Result<Option<app::model::ApiToken>, $crate::store::StoreError> {
                let row = sqlx::query_as::<_, $crate::store::users::TokenRow>(
                    $crate::store::users::REVOKE_TOKEN,
                )
                .bind(id)
                .bind(chrono::Utc::now())
                .fetch_optional(&self.pool)
                .await?;
                row.map(app::model::ApiToken::try_from).transpose()
            }
        }
    };
}

pub(crate) use impl_user_store;
