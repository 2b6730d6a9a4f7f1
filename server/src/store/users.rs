//! Users, sessions and API tokens: SQL shared by both databases and the one implementation of
//! [`UserStore`](super::UserStore).

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

pub const TOKEN_COLUMNS: &str =
    "SELECT id, name, role, created_by, created_at, last_used_at, revoked_at FROM api_tokens";
pub const INSERT_TOKEN: &str = "\
    INSERT INTO api_tokens (name, secret_hash, role, created_by, created_at) \
    VALUES ($1, $2, $3, $4, $5) \
    RETURNING id, name, role, created_by, created_at, last_used_at, revoked_at";
pub const TOUCH_TOKEN: &str = "UPDATE api_tokens SET last_used_at = $2 WHERE id = $1";
pub const REVOKE_TOKEN: &str = "\
    UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1 \
    RETURNING id, name, role, created_by, created_at, last_used_at, revoked_at";

macro_rules! impl_user_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::UserStore for $store {
            async fn insert_user(
                &self,
                name: &str,
                password_hash: &str,
                role: app::auth::Role,
            ) -> Result<app::model::User, $crate::store::StoreError> {
                let row = sqlx::query_as::<_, $crate::store::rows::UserRow>(
                    $crate::store::users::INSERT_USER,
                )
                .bind(name)
                .bind(password_hash)
                .bind(role.as_str())
                .bind(chrono::Utc::now())
                .fetch_one(&self.pool)
                .await
                .map_err(|error| $crate::store::rows::duplicate(error, "user", name))?;
                app::model::User::try_from(row)
            }

            async fn credentials(
                &self,
                name: &str,
            ) -> Result<Option<(app::model::User, String)>, $crate::store::StoreError> {
                let row = sqlx::query_as::<_, $crate::store::rows::CredentialsRow>(
                    $crate::store::users::CREDENTIALS,
                )
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
                row.map(|row| Ok((app::model::User::try_from(row.user)?, row.password_hash)))
                    .transpose()
            }

            async fn list_users(&self) -> Result<Vec<app::model::User>, $crate::store::StoreError> {
                let rows = sqlx::query_as::<_, $crate::store::rows::UserRow>(
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
                role: app::auth::Role,
            ) -> Result<bool, $crate::store::StoreError> {
                let done = sqlx::query($crate::store::users::SET_ROLE)
                    .bind(name)
                    .bind(role.as_str())
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn remove_user(&self, name: &str) -> Result<bool, $crate::store::StoreError> {
                let done = sqlx::query($crate::store::users::REMOVE_USER)
                    .bind(name)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() > 0)
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
                let row = sqlx::query_as::<_, $crate::store::rows::SessionRow>(
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
                role: app::auth::Role,
                created_by: &str,
            ) -> Result<app::model::ApiToken, $crate::store::StoreError> {
                let row = sqlx::query_as::<_, $crate::store::rows::TokenRow>(
                    $crate::store::users::INSERT_TOKEN,
                )
                .bind(name)
                .bind(secret_hash)
                .bind(role.as_str())
                .bind(created_by)
                .bind(chrono::Utc::now())
                .fetch_one(&self.pool)
                .await
                .map_err(|error| $crate::store::rows::duplicate(error, "token", name))?;
                app::model::ApiToken::try_from(row)
            }

            async fn token_by_secret(
                &self,
                secret_hash: &str,
            ) -> Result<Option<app::model::ApiToken>, $crate::store::StoreError> {
                let sql = format!("{} WHERE secret_hash = $1", $crate::store::users::TOKEN_COLUMNS);
                let row = sqlx::query_as::<_, $crate::store::rows::TokenRow>(&sql)
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
                let rows = sqlx::query_as::<_, $crate::store::rows::TokenRow>(&sql)
                    .fetch_all(&self.pool)
                    .await?;
                $crate::store::rows::all(rows)
            }

            async fn revoke_token(
                &self,
                id: i64,
            ) -> Result<Option<app::model::ApiToken>, $crate::store::StoreError> {
                let row = sqlx::query_as::<_, $crate::store::rows::TokenRow>(
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
