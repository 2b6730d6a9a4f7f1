//! A fresh PostgreSQL database per test, dropped when the guard goes.

use sqlx::Connection;
use sqlx::postgres::PgConnection;

pub struct FreshDatabase {
    admin_url: String,
    name: String,
    pub url: String,
}

/// The server to create test databases on; `STANDBY_TEST_POSTGRES_URL` overrides it.
fn admin_url() -> String {
    std::env::var("STANDBY_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// `None` (with the reason printed) only where no PostgreSQL is reachable and we are not in CI.
pub async fn fresh_database(purpose: &str) -> Option<FreshDatabase> {
    let admin_url = admin_url();
    let mut admin = match PgConnection::connect(&admin_url).await {
        Ok(connection) => connection,
        Err(error) if std::env::var_os("CI").is_none() => {
            eprintln!(
                "SKIPPED the PostgreSQL half of {purpose}: cannot connect to {admin_url}: {error}"
            );
            return None;
        }
        Err(error) => {
            panic!("CI must test PostgreSQL too, but {admin_url} is unreachable: {error}")
        }
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.subsec_nanos())
        .unwrap_or_default();
    let name = format!(
        "standby_test_{}_{}_{nanos}",
        purpose.replace(|c: char| !c.is_ascii_alphanumeric(), "_"),
        std::process::id()
    );
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut admin)
        .await
        .expect("create a test database");
    let url = match admin_url.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{name}"),
        None => panic!("the PostgreSQL URL {admin_url} names no database"),
    };
    Some(FreshDatabase { admin_url, name, url })
}

impl Drop for FreshDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Dropping needs async; a small runtime of its own works from any test.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build()
            else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(mut admin) = PgConnection::connect(&admin_url).await {
                    let drop = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                    let _ = sqlx::query(&drop).execute(&mut admin).await;
                }
            });
        })
        .join();
    }
}
