//! The manager's command line: `standby serve` as a process, and the set-up subcommands an
//! administrator runs before it (`token create`, `license set`).

use crate::binaries::Binary;
use crate::process::{Launch, Process, Stderr};
use tokio::process::Command;

/// `standby serve` on 127.0.0.1:0 with the database, extra flags and environment; its log
/// (at `warn`, unless `env` says otherwise) goes to standard error.
pub async fn start(database_url: &str, extra: &[&str], env: &[(&str, &str)]) -> Process {
    let mut after = vec!["--database-url".into(), database_url.into()];
    after.extend(extra.iter().map(Into::into));
    let mut environment = vec![("STANDBY_LOG".into(), "warn".into())];
    environment.extend(env.iter().map(|&(key, value)| (key.into(), value.into())));
    let launch = Launch {
        what: "the manager (standby serve)".into(),
        program: Binary::Manager.path(),
        before: vec!["serve".into()],
        after,
        env: environment,
        stderr: Stderr::Inherit,
        place: crate::process::Place::default(),
        marker: "Standby is listening on ",
    };
    Process::start(launch, 0).await
}

/// Runs a `standby` subcommand on the database and returns what it printed; panics with its
/// error output when it fails.
async fn run(database_url: &str, args: &[&str]) -> String {
    let output = Command::new(Binary::Manager.path())
        .args(args)
        .args(["--database-url", database_url])
        .env("STANDBY_LOG", "warn")
        .output()
        .await
        .unwrap_or_else(|error| panic!("cannot run `standby {}`: {error}", args.join(" ")));
    assert!(
        output.status.success(),
        "`standby {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `standby token create NAME --role ROLE`, as an administrator would; the secret is the last
/// line printed. (Creating the first token also creates the database and migrates it.)
pub async fn create_token(database_url: &str, name: &str, role: &str) -> String {
    let printed = run(database_url, &["token", "create", name, "--role", role]).await;
    printed.lines().last().expect("`standby token create` printed the secret").trim().to_owned()
}

/// `standby license set --failover-enabled ENABLED --failover-servers SERVERS`.
pub async fn licence(database_url: &str, enabled: bool, servers: u32) {
    let (enabled, servers) = (enabled.to_string(), servers.to_string());
    let args = ["license", "set", "--failover-enabled", &enabled, "--failover-servers", &servers];
    run(database_url, &args).await;
}
