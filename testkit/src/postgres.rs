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

/// A PostgreSQL server of a test's own (`initdb` and `pg_ctl` from `/usr/lib/postgresql/*/bin`,
/// into a temporary folder, on a free loopback port), for tests that stop or restart the
/// database; the machine's shared server, which other tests use at the same time, is never
/// touched. Run as the `postgres` user when the test runs as root (PostgreSQL refuses root).
/// Stopped and removed when dropped.
pub struct PrivatePostgres {
    bin: std::path::PathBuf,
    dir: tempfile::TempDir,
    pub port: u16,
    /// The `postgres` database on it, as the superuser.
    pub url: String,
}

impl PrivatePostgres {
    /// `None` (with the reason printed) where PostgreSQL's programs are not installed and we are
    /// not in CI.
    pub fn start() -> Option<PrivatePostgres> {
        let Some(bin) = server_programs() else {
            assert!(std::env::var_os("CI").is_none(), "CI needs PostgreSQL's initdb and pg_ctl");
            eprintln!("SKIPPED: no /usr/lib/postgresql/*/bin/initdb");
            return None;
        };
        let dir = tempfile::tempdir().expect("a temporary directory");
        let data = dir.path().join("data");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|address| address.port())
            .expect("a free port");
        let server = PrivatePostgres {
            bin,
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            port,
            dir,
        };
        if is_root() {
            let owned = std::process::Command::new("chown")
                .args(["postgres"])
                .arg(server.dir.path())
                .status()
                .is_ok_and(|status| status.success());
            assert!(owned, "chown postgres {}", server.dir.path().display());
        }
        let data_dir = data.display().to_string();
        server.run("initdb", &["-D", &data_dir, "-U", "postgres", "-A", "trust", "--no-sync"]);
        server.pg_ctl(&["start"]);
        Some(server)
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    /// `pg_ctl restart -m fast`: every connection is cut, then the server answers again.
    pub fn restart(&self) {
        self.pg_ctl(&["restart", "-m", "fast"]);
    }

    /// `pg_ctl stop -m fast`: every connection is cut, and none is taken until
    /// [`PrivatePostgres::start_again`].
    pub fn stop(&self) {
        self.pg_ctl(&["stop", "-m", "fast"]);
    }

    /// Starts it again after [`PrivatePostgres::stop`], once it takes connections.
    pub fn start_again(&self) {
        self.pg_ctl(&["start"]);
    }

    fn pg_ctl(&self, action: &[&str]) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log").display().to_string();
        let mut args: Vec<String> =
            vec!["-D".into(), self.data(), "-w".into(), "-l".into(), log, "-o".into(), options];
        args.extend(action.iter().map(|arg| arg.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.run("pg_ctl", &args);
    }

    fn run(&self, program: &str, args: &[&str]) {
        let program = self.bin.join(program).display().to_string();
        self.as_postgres_user(&program, args);
    }

    fn as_postgres_user(&self, program: &str, args: &[&str]) {
        let output = as_postgres(program).args(args).output().expect("run a PostgreSQL program");
        assert!(
            output.status.success(),
            "{program} {} failed: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let program = self.bin.join("pg_ctl").display().to_string();
        let _ =
            as_postgres(&program).args(["-D", &self.data(), "stop", "-m", "immediate"]).output();
    }
}

/// The program, run as the `postgres` user when this process is root.
fn as_postgres(program: &str) -> std::process::Command {
    if is_root() {
        let mut command = std::process::Command::new("runuser");
        command.args(["-u", "postgres", "--", program]);
        command
    } else {
        std::process::Command::new(program)
    }
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
}

/// The newest installed `/usr/lib/postgresql/<version>/bin` with `initdb`.
fn server_programs() -> Option<std::path::PathBuf> {
    let mut found: Vec<std::path::PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| Some(entry.ok()?.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    found.sort();
    found.pop()
}
