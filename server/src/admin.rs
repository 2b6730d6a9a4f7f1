//! `standby user …`, `standby token …` and `standby license …`: the command line goes through
//! the same door as the API (rights and audit trail, with the command line as the actor).

use crate::cli::{LicenceCommand, ServerCommand, TokenCommand, UserCommand};
use app::failure::Failure;
use app::model::{NewServer, NewToken, NewUser, PasswordChange, ServerKind, WriteOnly};
use app::port::Console;
use app::rights::{Caller, Role, Scope};
use std::io::{BufRead, IsTerminal};

fn cli_caller() -> Caller {
    let who = std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned());
    Caller::system(&format!("cli:{who}"))
}

/// The password from the flag, else from standard input (without echo on a terminal).
fn password(flag: Option<String>, prompt: &str) -> std::io::Result<String> {
    if let Some(password) = flag {
        return Ok(password);
    }
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password(prompt);
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}

pub async fn user(
    engine: &dyn Console,
    command: UserCommand,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let caller = cli_caller();
    match command {
        UserCommand::Add { name, role, password: flag } => {
            let password = password(flag, &format!("Password for {name}: "))?;
            let user = engine
                .add_user(&caller, NewUser { name, password, role })
                .await
                .map_err(sentence)?;
            println!("Added {} ({}).", user.name, user.role);
        }
        UserCommand::List => {
            let users = engine.users(&caller).await.map_err(sentence)?;
            if users.is_empty() {
                println!("No users yet: add one with `standby user add NAME --role admin`.");
            }
            for user in users {
                println!(
                    "{:<24} {:<9} since {}",
                    user.name,
                    user.role,
                    user.created_at.format("%Y-%m-%d %H:%M UTC")
                );
            }
        }
        UserCommand::Passwd { name, password: flag } => {
            let password = password(flag, &format!("New password for {name}: "))?;
            let change = PasswordChange { password, current_password: None };
            engine.set_password(&caller, &name, change).await.map_err(sentence)?;
            println!("Password of {name} changed; their sessions have ended.");
        }
        UserCommand::Remove { name } => {
            engine.remove_user(&caller, &name).await.map_err(sentence)?;
            println!("Removed {name}.");
        }
    }
    Ok(())
}

pub async fn token(
    engine: &dyn Console,
    command: TokenCommand,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let caller = cli_caller();
    match command {
        TokenCommand::Create { name, role, scope } => {
            let scope = scope.unwrap_or_default();
            let role = match (role, scope) {
                (Some(role), _) => role,
                (None, Scope::Metrics) => Role::Viewer,
                (None, Scope::Full) => return Err("a full token needs --role".into()),
            };
            let new = NewToken { name, role, scope };
            let created = engine.create_token(&caller, new).await.map_err(sentence)?;
            println!(
                "Token {} ({}, scope {}) created. Its secret is shown this once:",
                created.token.name, created.token.role, created.token.scope
            );
            println!("{}", created.secret);
        }
        TokenCommand::List => {
            for token in engine.tokens(&caller).await.map_err(sentence)? {
                let used = token
                    .last_used_at
                    .map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string())
                    .unwrap_or_else(|| "never".into());
                let state = if token.revoked_at.is_some() { "revoked" } else { "active" };
                println!(
                    "{:>4} {:<24} {:<9} {:<8} {:<8} last used {used}",
                    token.id, token.name, token.role, token.scope, state
                );
            }
        }
        TokenCommand::Revoke { token } => {
            let tokens = engine.tokens(&caller).await.map_err(sentence)?;
            let found = tokens
                .iter()
                .find(|known| {
                    known.name.eq_ignore_ascii_case(&token) || known.id.to_string() == token
                })
                .ok_or_else(|| sentence(Failure::not_found(format!("Token {token:?}"))))?;
            engine.revoke_token(&caller, found.id).await.map_err(sentence)?;
            println!("Token {} revoked.", found.name);
        }
    }
    Ok(())
}

fn sentence(failure: Failure) -> Box<dyn std::error::Error + Send + Sync> {
    failure.message.into()
}

pub async fn licence(
    engine: &dyn Console,
    command: LicenceCommand,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let caller = cli_caller();
    let licence = match command {
        LicenceCommand::Show => engine.licence(&caller).await.map_err(sentence)?,
        LicenceCommand::Set { failover_enabled, failover_servers } => {
            let update = app::model::LicenceUpdate { failover_enabled, failover_servers };
            engine.set_licence(&caller, update).await.map_err(sentence)?
        }
    };
    let enabled = if licence.failover_enabled { "enabled" } else { "not enabled" };
    println!("Failover {enabled}; up to {} failover server(s) at once.", licence.failover_servers);
    Ok(())
}

pub async fn server(
    engine: &dyn Console,
    command: ServerCommand,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let caller = cli_caller();
    match command {
        ServerCommand::Add { name, address, kind, secret_file, no_failover } => {
            let secret = match secret_file {
                Some(path) => std::fs::read_to_string(&path)
                    .map_err(|error| format!("cannot read {}: {error}", path.display()))?,
                None => password(None, &format!("Secret of {name}'s agent: "))?,
            };
            let monitored = kind == ServerKind::Recorder && !no_failover;
            let new = NewServer {
                name,
                address,
                kind,
                failover_enabled: monitored,
                auto_failback: monitored,
                copy_after_failback: true,
                secret: Some(WriteOnly(secret.trim().to_owned())),
            };
            let server = engine.add_server(&caller, new).await.map_err(sentence)?;
            println!("Added {} ({}) at {}.", server.name, server.kind, server.address);
        }
        ServerCommand::List => {
            for server in engine.servers(&caller).await.map_err(sentence)? {
                println!(
                    "{:>4} {:<24} {:<9} {:<12} {}",
                    server.id, server.name, server.kind, server.state, server.address
                );
            }
        }
        ServerCommand::Remove { server } => {
            let servers = engine.servers(&caller).await.map_err(sentence)?;
            let found = servers
                .iter()
                .find(|known| {
                    known.name.eq_ignore_ascii_case(&server) || known.id.to_string() == server
                })
                .ok_or_else(|| sentence(Failure::not_found(format!("Server {server:?}"))))?;
            engine.remove_server(&caller, found.id).await.map_err(sentence)?;
            println!("Removed {}.", found.name);
        }
    }
    Ok(())
}
