//! The `standby` command line (the contract in DESIGN.md).

use app::rights::{Role, Scope};
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "standby",
    version,
    about = "Failover console of a video management system: \
watches recording servers, fails them over to standby servers and back, and copies the material \
recorded meanwhile home."
)]
pub struct Cli {
    /// Configuration file (default: ./standby.toml when it exists).
    #[arg(long, global = true, env = "STANDBY_CONFIG")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the management server: web UI, REST API, event stream and the engine.
    Serve(ServeArgs),
    /// Run a whole demo site on this machine: the manager on an SQLite file, recorder agents
    /// and failover servers on loopback.
    Demo(DemoArgs),
    /// Manage the people who may log in.
    User {
        #[command(flatten)]
        store: StoreArgs,
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Show or set the licence (whether failover is enabled, how many failover servers).
    License {
        #[command(flatten)]
        store: StoreArgs,
        #[command(subcommand)]
        command: LicenceCommand,
    },
    /// Register, list and remove recorders and failover servers.
    Server {
        #[command(flatten)]
        store: StoreArgs,
        #[command(subcommand)]
        command: ServerCommand,
    },
    /// Manage API tokens (for scripts and wall-screen dashboards).
    Token {
        #[command(flatten)]
        store: StoreArgs,
        #[command(subcommand)]
        command: TokenCommand,
    },
}

#[derive(Debug, Args)]
pub struct StoreArgs {
    /// sqlite://FILE (created if missing) or postgres://… [default: sqlite://standby.db].
    #[arg(long, global = true, env = "STANDBY_DATABASE_URL")]
    pub database_url: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user. The password comes from --password or standard input.
    Add {
        name: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
        #[arg(long)]
        password: Option<String>,
    },
    /// List the users and their roles.
    List,
    /// Set a user's password (from --password or standard input); ends their sessions.
    Passwd {
        name: String,
        #[arg(long)]
        password: Option<String>,
    },
    /// Remove a user; their sessions end.
    Remove { name: String },
}

#[derive(Debug, Subcommand)]
pub enum ServerCommand {
    /// Register a server. Its agent's secret (DATA_DIR/secret on that machine, or its
    /// --secret-file) comes from --secret-file, else from standard input.
    Add {
        name: String,
        /// host:port or http(s)://host:port of its agent.
        #[arg(long)]
        address: String,
        #[arg(long, value_parser = parse_kind)]
        kind: app::model::ServerKind,
        /// A file holding the agent's secret.
        #[arg(long)]
        secret_file: Option<PathBuf>,
        /// Do not fail this recorder over when it dies.
        #[arg(long)]
        no_failover: bool,
    },
    /// List the servers with their state.
    List,
    /// Remove a server by name or id (refused while a failover involves it).
    Remove { server: String },
}

fn parse_kind(text: &str) -> Result<app::model::ServerKind, String> {
    app::model::ServerKind::parse(text)
        .ok_or_else(|| format!("{text:?} is not a server kind: use recorder or failover"))
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token; its secret is printed once.
    Create {
        name: String,
        /// Needed for a full token; a metrics token is a viewer unless said.
        #[arg(long, value_parser = parse_role, required_unless_present = "scope")]
        role: Option<Role>,
        /// `full` (everything the role allows) or `metrics` (GET /metrics only, for a
        /// Prometheus scraper) [default: full].
        #[arg(long, value_parser = parse_scope)]
        scope: Option<Scope>,
    },
    /// List tokens with their last use.
    List,
    /// Revoke a token by name or id: it stops working at once.
    Revoke { token: String },
}

#[derive(Debug, Subcommand)]
pub enum LicenceCommand {
    /// Print the licence.
    Show,
    /// Set the licence.
    Set {
        /// Whether failover is enabled.
        #[arg(long, action = clap::ArgAction::Set)]
        failover_enabled: bool,
        /// How many failover servers may act at the same time.
        #[arg(long)]
        failover_servers: i64,
    },
}

fn parse_scope(text: &str) -> Result<Scope, String> {
    Scope::parse(text).ok_or_else(|| format!("{text:?} is not a token scope: use full or metrics"))
}

fn parse_role(text: &str) -> Result<Role, String> {
    Role::parse(text)
        .ok_or_else(|| format!("{text:?} is not a role: use admin, operator or viewer"))
}

#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Address to listen on [default: 127.0.0.1:3000].
    #[arg(long, env = "STANDBY_LISTEN")]
    pub listen: Option<SocketAddr>,

    /// Where the browser bundle is (the build's `target/site`).
    #[arg(long, env = "STANDBY_SITE_ROOT")]
    pub site_root: Option<PathBuf>,

    /// The pace of follow-up work (retried failovers, automatic failback, material-copy
    /// states), in milliseconds [default: 1000].
    #[arg(long, env = "STANDBY_MONITOR_INTERVAL_MS")]
    pub monitor_interval_ms: Option<u64>,

    /// How often each agent sends a heartbeat on its health stream, in milliseconds
    /// [default: 250].
    #[arg(long, env = "STANDBY_HEARTBEAT_MS")]
    pub heartbeat_ms: Option<u64>,

    /// How long one health check may take, in milliseconds [default: 500].
    #[arg(long, env = "STANDBY_CHECK_TIMEOUT_MS")]
    pub check_timeout_ms: Option<u64>,

    /// A recorder whose heartbeats stop for this long is failed over (one whose connection
    /// drops and cannot be reopened at once), in milliseconds [default: 1500].
    #[arg(long, env = "STANDBY_FAILOVER_WINDOW_MS")]
    pub failover_window_ms: Option<u64>,

    /// A repaired recorder must answer this long before automatic failback, in milliseconds
    /// [default: 5000].
    #[arg(long, env = "STANDBY_FAILBACK_HOLD_DOWN_MS")]
    pub failback_hold_down_ms: Option<u64>,

    /// A failover or failback that is still between two of its steps this long after the step
    /// began (its manager lost the database, or died) is finished or rolled back by the leader,
    /// in milliseconds [default: 60000].
    #[arg(long, env = "STANDBY_MID_STEP_TIMEOUT_MS")]
    pub mid_step_timeout_ms: Option<u64>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub server: ServerArgs,

    /// Several managers on one PostgreSQL database: a leader that has not renewed its lease for
    /// this long is replaced by another manager, in milliseconds [default: 3000].
    #[arg(long, env = "STANDBY_LEASE_MS", default_value_t = 3000)]
    pub lease_ms: u64,

    /// How often the leader renews its lease (and the others look whether it has run out), in
    /// milliseconds [default: 1000].
    #[arg(long, env = "STANDBY_RENEW_MS", default_value_t = 1000)]
    pub renew_ms: u64,

    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub server: ServerArgs,

    /// Number of recorder agents to start.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(0..=64))]
    pub recorders: u16,

    /// Number of failover servers to start.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(0..=64))]
    pub failover_servers: u16,

    /// Password for the demo's accounts (admin, operator, viewer) instead of new random ones.
    #[arg(long, env = "STANDBY_DEMO_PASSWORD")]
    pub password: Option<String>,

    /// Directory for the demo's database and the recorders' archives.
    #[arg(long, env = "STANDBY_DEMO_DIR", default_value = "standby-demo")]
    pub data_dir: PathBuf,
}
