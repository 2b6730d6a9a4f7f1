//! `standby`: the management server of Standby.

use app::model::{LicenceUpdate, NewUser, PasswordChange};
use app::port::Console;
use app::rights::{Caller, Role};
use clap::Parser;
use standby::cli::{Cli, Command, DemoArgs, ServeArgs, ServerArgs, StoreArgs};
use standby::config::{self, FileConfig};
use standby::engine::{Engine, Parts};
use standby::leadership::{self, Leadership, LeaseConfig, ManagerInfo, sole};
use standby::monitor::MonitorConfig;
use standby::recorders::HttpRecorders;
use standby::{demo, startup, store};
use std::process::ExitCode;
use std::sync::Arc;
use tracing_subscriber::EnvFilter;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    // Leptos renders a page as one deeply nested call per view; an unoptimised (test) build gives
    // each level its own stack frame, and the Servers page outgrew tokio's default of 2 MiB.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(8 << 20)
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("standby: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("standby: {error}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging() {
    let filter = EnvFilter::try_from_env("STANDBY_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    // Colour only for a person at a terminal: in a file, a pipe or a journal the codes are noise.
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
}

async fn run(cli: Cli) -> Result<(), BoxError> {
    let file = FileConfig::load(cli.config.as_deref())?;
    match cli.command {
        Command::Serve(args) => serve(args, &file).await,
        Command::Demo(args) => demo(args, &file).await,
        Command::User { store, command } => {
            standby::admin::user(cli_engine(&store, &file).await?.as_ref(), command).await
        }
        Command::License { store, command } => {
            standby::admin::licence(cli_engine(&store, &file).await?.as_ref(), command).await
        }
        Command::Server { store, command } => {
            standby::admin::server(cli_engine(&store, &file).await?.as_ref(), command).await
        }
        Command::Token { store, command } => {
            standby::admin::token(cli_engine(&store, &file).await?.as_ref(), command).await
        }
    }
}

/// Every command that touches the store creates it if missing and migrates it first.
async fn open_store(args: &StoreArgs, file: &FileConfig) -> Result<store::SharedStore, BoxError> {
    let url = database_url(args, file);
    tracing::info!(database = %config::redacted(&url), "opening the store");
    Ok(store::open(&url).await?)
}

fn database_url(args: &StoreArgs, file: &FileConfig) -> String {
    args.database_url
        .clone()
        .or_else(|| file.database_url.clone())
        .unwrap_or_else(|| config::DEFAULT_DATABASE_URL.to_owned())
}

/// The command line's engine: the same door as the API, without background work.
async fn cli_engine(args: &StoreArgs, file: &FileConfig) -> Result<Arc<Engine>, BoxError> {
    Ok(Engine::new(Parts::new(open_store(args, file).await?)))
}

fn settings(args: &ServerArgs, file: &FileConfig) -> Result<startup::Settings, BoxError> {
    let default_listen = config::DEFAULT_LISTEN.parse()?;
    Ok(startup::Settings {
        listen: args.listen.or(file.listen).unwrap_or(default_listen),
        site_root: config::site_root(args.site_root.clone(), file),
    })
}

fn monitor(args: &ServerArgs, file: &FileConfig) -> Result<MonitorConfig, BoxError> {
    let flags = config::MonitorFlags {
        interval_ms: args.monitor_interval_ms,
        check_timeout_ms: args.check_timeout_ms,
        failover_window_ms: args.failover_window_ms,
        failback_hold_down_ms: args.failback_hold_down_ms,
        heartbeat_ms: args.heartbeat_ms,
        mid_step_timeout_ms: args.mid_step_timeout_ms,
    };
    Ok(config::monitor(file, flags)?)
}

async fn serve(args: ServeArgs, file: &FileConfig) -> Result<(), BoxError> {
    let settings = settings(&args.server, file)?;
    let lease = LeaseConfig::new(args.lease_ms, args.renew_ms)?;
    let url = database_url(&args.store, file);
    // One manager per SQLite file: held until the process ends.
    let _sole = match sole::database_path(&url) {
        Some(database) => Some(sole::lock(&database)?),
        None => None,
    };
    tracing::info!(database = %config::redacted(&url), "opening the store");
    let (store, pool) = store::open_shared(&url).await?;
    let me = ManagerInfo { id: leadership::new_manager_id(), started_at: chrono::Utc::now() };
    let leadership = Arc::new(match pool.clone() {
        Some(pool) => Leadership::on_postgres(me, pool, lease),
        None => Leadership::sole(me),
    });
    let parts = Parts {
        monitor: monitor(&args.server, file)?,
        recorders: Arc::new(HttpRecorders::carrying_epoch(leadership.epoch_counter())),
        leadership,
        ..Parts::new(store)
    };
    let engine = Engine::new(parts);
    if let Some(pool) = pool {
        engine.relay_events(pool);
    }
    let app = startup::Application::build(settings, engine).await?;
    let address = app.local_addr()?;
    tracing::info!(%address, "Standby is listening");
    println!("Standby is listening on http://{address}/");
    app.run_until_stopped().await?;
    Ok(())
}

async fn demo(args: DemoArgs, file: &FileConfig) -> Result<(), BoxError> {
    let settings = settings(&args.server, file)?;
    std::fs::create_dir_all(&args.data_dir)?;
    let database = args.data_dir.join("standby.db");
    let _sole = sole::lock(&database)?;
    let url = format!("sqlite://{}", database.display());
    let site = Arc::new(demo::DemoSite::new(&args.data_dir)?);
    let parts = Parts {
        monitor: monitor(&args.server, file)?,
        demo: Some(site.clone()),
        ..Parts::new(store::open(&url).await?)
    };
    let engine = Engine::new(parts);
    let caller = Caller::system("demo");
    let logins = demo_logins(engine.as_ref(), &caller, args.password.as_deref()).await?;
    // The demo is licensed for every failover server it starts.
    let licence = LicenceUpdate {
        failover_enabled: true,
        failover_servers: i64::from(args.failover_servers),
    };
    engine.set_licence(&caller, licence).await?;
    site.start(args.recorders, args.failover_servers, engine.as_ref()).await?;
    let app = startup::Application::build(settings, engine).await?;
    let address = app.local_addr()?;
    println!();
    println!("  Standby demo is running: open http://{address}/servers");
    println!(
        "  {} recorders and {} failover servers on loopback; their archives and logs are in {}",
        args.recorders,
        args.failover_servers,
        args.data_dir.display()
    );
    println!("  Log in as one of:");
    for (name, role, password) in &logins {
        println!("    {name:<9} password {password}   ({role})");
    }
    println!("  Switch a recorder off and on from the Servers page. Stop the demo with Ctrl-C.");
    println!();
    let served = app.run_until_stopped().await;
    site.shutdown().await;
    served?;
    Ok(())
}

/// The demo's accounts, one per role, with fresh passwords.
async fn demo_logins(
    console: &dyn Console,
    caller: &Caller,
    password: Option<&str>,
) -> Result<Vec<(String, Role, String)>, BoxError> {
    let existing = console.users(caller).await?;
    let mut logins = Vec::new();
    for role in Role::ALL {
        let name = role.as_str().to_owned();
        let password =
            password.map(str::to_owned).unwrap_or_else(standby::credentials::secrets::new_password);
        if existing.iter().any(|user| user.name == name) {
            let change = PasswordChange { password: password.clone(), current_password: None };
            console.set_password(caller, &name, change).await?;
        } else {
            let new = NewUser { name: name.clone(), password: password.clone(), role };
            console.add_user(caller, new).await?;
        }
        logins.push((name, role, password));
    }
    Ok(logins)
}
