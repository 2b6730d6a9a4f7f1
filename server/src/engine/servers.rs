//! Adding and editing servers: validation that names the field, then the store.

use super::Engine;
use crate::recorders::{AgentSecret, Endpoint};
use crate::store::ServerSettings;
use app::failure::Failure;
use app::model::{NewServer, Server, ServerPatch, SystemEvent};
use reqwest::Url;

pub(super) const MAX_NAME_CHARS: usize = 100;

impl Engine {
    pub(super) async fn insert_server(&self, new: NewServer) -> Result<Server, Failure> {
        let secret = new.secret.as_ref().map(|secret| valid_secret(&secret.0)).transpose()?;
        let settings = new_settings(new)?;
        self.refuse_duplicates(None, &settings.name, &settings.address).await?;
        self.check_agent(&settings, secret.as_deref()).await?;
        let server = self.store.insert_server(&settings).await?;
        if let Some(secret) = &secret {
            self.keyring.set(server.id, secret).await?;
        }
        tracing::info!(server = %server.name, address = %server.address, "server added");
        self.events.publish(SystemEvent::ServerChanged { server: server.clone() });
        Ok(server)
    }

    pub(super) async fn find_server(&self, id: i64) -> Result<Server, Failure> {
        self.store.server(id).await?.ok_or_else(|| Failure::not_found(format!("Server {id}")))
    }

    pub(super) async fn change_server(
        &self,
        id: i64,
        patch: ServerPatch,
    ) -> Result<Server, Failure> {
        let current = self.find_server(id).await?;
        let secret = patch.secret.as_ref().map(|secret| valid_secret(&secret.0)).transpose()?;
        let settings = patched(&current, patch)?;
        if settings.address != current.address || settings.name != current.name {
            self.refuse_duplicates(Some(id), &settings.name, &settings.address).await?;
        }
        if settings.address != current.address || settings.kind != current.kind {
            // The agent at the new address must take the new secret, or the one it had.
            let known = self.keyring.endpoint(&current).await.secret;
            let secret = secret.clone().or_else(|| known.map(|s| s.expose().to_owned()));
            self.check_agent(&settings, secret.as_deref()).await?;
        }
        if let Some(secret) = &secret
            && settings.address == current.address
        {
            self.rotate_secret(&current, secret).await?;
        }
        let server = self
            .store
            .update_server(id, &settings)
            .await?
            .ok_or_else(|| Failure::not_found(format!("Server {id}")))?;
        if let Some(secret) = &secret {
            self.keyring.set(id, secret).await?;
        }
        tracing::info!(server = %server.name, "server settings changed");
        self.events.publish(SystemEvent::ServerChanged { server: server.clone() });
        Ok(server)
    }

    /// A server leaves the site; refused while a failover involves it, since its cameras or
    /// its recordings would be lost track of.
    pub(super) async fn delete_server(&self, id: i64) -> Result<(), Failure> {
        let server = self.find_server(id).await?;
        let open = self.store.open_failovers().await?.into_iter().find(|entry| {
            entry.recorder.id == id || entry.failover_server.as_ref().is_some_and(|s| s.id == id)
        });
        if let Some(entry) = open {
            return Err(Failure::conflict(
                "in_failover",
                format!(
                    "{} is part of failover {} ({}); fail back first.",
                    server.name,
                    entry.id,
                    entry.status.label().to_lowercase()
                ),
            ));
        }
        if !self.store.remove_server(id, chrono::Utc::now()).await? {
            return Err(Failure::not_found(format!("Server {id}")));
        }
        self.keyring.forget(id);
        tracing::info!(server = %server.name, "server removed");
        self.events.publish(SystemEvent::ServerRemoved { id });
        Ok(())
    }

    /// Another server by that name (told first: it is what an administrator sees), or at that
    /// address.
    async fn refuse_duplicates(
        &self,
        id: Option<i64>,
        name: &str,
        address: &str,
    ) -> Result<(), Failure> {
        // Two lookups, not the whole list: registering 10,000 servers one by one stays linear.
        let same_name = self.store.server_by_name(name).await?;
        if same_name.is_some_and(|other| Some(other.id) != id) {
            return Err(Failure::conflict(
                "duplicate_name",
                format!("A server named {name:?} already exists; choose another name."),
            ));
        }
        match self.store.other_server_at(address, id).await? {
            Some(other) => Err(Failure::conflict(
                "duplicate_address",
                format!("{} is already registered at {address}.", other.name),
            )),
            None => Ok(()),
        }
    }

    /// A new secret for a registered server: the agent is given it with the secret it has now
    /// (it accepts both for a while, so nothing restarts and nothing stops recording). An agent
    /// that already has it (set on its side) is fine too; one that refuses both is not.
    async fn rotate_secret(&self, server: &Server, new: &str) -> Result<(), Failure> {
        let now = self.keyring.endpoint(server).await;
        if now.secret.as_ref().is_some_and(|old| old.expose() == new) {
            return Ok(());
        }
        match self.recorders.rotate_secret(&now, new).await {
            Ok(()) => {
                tracing::info!(server = %server.name, "the agent's secret was rotated");
                Ok(())
            }
            Err(error) if error.is_credential_refused() => {
                let with_new = Endpoint { secret: Some(AgentSecret::new(new)), ..now };
                match self.recorders.settings(&with_new).await {
                    Err(error) if error.is_credential_refused() => {
                        Err(secret_refused(&server.address))
                    }
                    _ => Ok(()),
                }
            }
            Err(error) => {
                // Down now: the new secret is kept, for an agent being set up anew.
                tracing::warn!(server = %server.name, %error, "the agent did not take the new secret; it is kept for when the agent has it");
                Ok(())
            }
        }
    }

    /// An agent that answers must be the kind it is registered as (a recorder registered as a
    /// failover server would be told to record for others while recording for itself) and
    /// must accept the secret given (or need none).
    async fn check_agent(
        &self,
        settings: &ServerSettings,
        secret: Option<&str>,
    ) -> Result<(), Failure> {
        let at = Endpoint {
            name: settings.name.clone(),
            address: settings.address.clone(),
            secret: secret.map(AgentSecret::new),
        };
        let Ok(health) = self.recorders.health(&at, self.check_timeout()).await else {
            // Not up yet: administrators register servers before they are switched on.
            return Ok(());
        };
        let registered = settings.kind.as_str();
        if health.kind.as_str() != registered {
            return Err(Failure::conflict(
                "kind_mismatch",
                format!(
                    "The agent at {} says it is a {} server, not a {registered} server.",
                    settings.address, health.kind
                ),
            ));
        }
        match self.recorders.settings(&at).await {
            Err(error) if error.is_credential_refused() => Err(secret_refused(&settings.address)),
            _ => Ok(()),
        }
    }
}

fn secret_refused(address: &str) -> Failure {
    Failure::conflict(
        "secret_refused",
        format!(
            "The agent at {address} refuses this secret: give the contents of its secret file \
             (DATA_DIR/secret, or the file of its --secret-file)."
        ),
    )
}

/// An agent secret as administrators paste it: long enough to be one, nothing invisible.
fn valid_secret(secret: &str) -> Result<String, Failure> {
    let secret = secret.trim();
    if secret.chars().count() < 16 {
        return Err(Failure::invalid(
            "secret",
            "must be at least 16 characters (the contents of the agent's secret file).",
        ));
    }
    if secret.len() > 1024 || secret.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(Failure::invalid(
            "secret",
            "must be one line of at most 1024 characters without spaces.",
        ));
    }
    Ok(secret.to_owned())
}

/// A settings change of an existing server, with the fields the patch leaves out kept.
pub fn patched(current: &Server, patch: ServerPatch) -> Result<ServerSettings, Failure> {
    Ok(ServerSettings {
        name: match patch.name {
            Some(name) => valid_name(&name)?,
            None => current.name.clone(),
        },
        address: match patch.address {
            Some(address) => valid_address(&address)?,
            None => current.address.clone(),
        },
        kind: patch.kind.unwrap_or(current.kind),
        failover_enabled: patch.failover_enabled.unwrap_or(current.failover_enabled),
        auto_failback: patch.auto_failback.unwrap_or(current.auto_failback),
        maintenance_mode: patch.maintenance_mode.unwrap_or(current.maintenance_mode),
        copy_after_failback: patch.copy_after_failback.unwrap_or(current.copy_after_failback),
    })
}

pub fn new_settings(new: NewServer) -> Result<ServerSettings, Failure> {
    Ok(ServerSettings {
        name: valid_name(&new.name)?,
        address: valid_address(&new.address)?,
        kind: new.kind,
        failover_enabled: new.failover_enabled,
        auto_failback: new.auto_failback,
        maintenance_mode: false,
        copy_after_failback: new.copy_after_failback,
    })
}

pub fn valid_name(name: &str) -> Result<String, Failure> {
    let name = name.trim();
    if name.is_empty() {
        return Err(Failure::invalid("name", "must not be empty."));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(Failure::invalid(
            "name",
            format!("must be at most {MAX_NAME_CHARS} characters."),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(Failure::invalid("name", "must not contain control characters."));
    }
    Ok(name.to_owned())
}

/// Accepts `host:port` or `http(s)://host:port` and stores the URL form, so every recorder
/// address reads the same way.
pub fn valid_address(address: &str) -> Result<String, Failure> {
    let text = address.trim();
    let explain = |why: &str| {
        Failure::invalid(
            "address",
            format!(
                "{text:?} is not a recorder address ({why}); write host:port, e.g. 10.0.0.5:8080."
            ),
        )
    };
    if text.is_empty() {
        return Err(explain("it is empty"));
    }
    let with_scheme = if text.contains("://") { text.to_owned() } else { format!("http://{text}") };
    let url = Url::parse(&with_scheme).map_err(|error| explain(&error.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(explain("only http and https are spoken"));
    }
    let host = url.host_str().filter(|host| !host.is_empty()).ok_or_else(|| explain("no host"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(explain("credentials do not belong in the address"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(explain("it has a path"));
    }
    let port = url.port_or_known_default().ok_or_else(|| explain("no port"))?;
    if let Some(why) = forbidden_host(host) {
        return Err(explain(why));
    }
    Ok(format!("{}://{host}:{port}", url.scheme()))
}

/// Addresses the manager never talks to: link-local ones reach cloud metadata services and
/// neighbours that are not recorders, and unspecified, multicast or broadcast ones are no single
/// host. Names are not resolved here; the agent's answer tells the rest.
fn forbidden_host(host: &str) -> Option<&'static str> {
    use std::net::IpAddr;
    let ip: IpAddr = host.trim_start_matches('[').trim_end_matches(']').parse().ok()?;
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    };
    let link_local = match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => v6.is_unicast_link_local(),
    };
    let broadcast = matches!(ip, IpAddr::V4(v4) if v4.is_broadcast());
    if link_local {
        Some("a link-local address is not a recorder")
    } else if ip.is_unspecified() || ip.is_multicast() || broadcast {
        Some("it is not one host")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::failure::FailureKind;

    #[test]
    fn addresses_are_normalised_to_urls() {
        assert_eq!(valid_address("127.0.0.1:4001").unwrap(), "http://127.0.0.1:4001");
        assert_eq!(valid_address(" http://rec-1.site:80/ ").unwrap(), "http://rec-1.site:80");
        assert_eq!(valid_address("https://rec-1").unwrap(), "https://rec-1:443");
        assert_eq!(valid_address("[::1]:9000").unwrap(), "http://[::1]:9000");
    }

    #[test]
    fn malformed_addresses_name_the_field() {
        for bad in [
            "",
            "   ",
            "ftp://x:1",
            "http://",
            "host:99999",
            "a b:1",
            "http://h:1/x",
            "u:p@h:1",
            "169.254.169.254:80",
            "[fe80::1]:80",
            "[::ffff:169.254.169.254]:80",
            "0.0.0.0:80",
            "255.255.255.255:80",
        ] {
            let failure = valid_address(bad).expect_err(bad);
            assert_eq!(failure.kind, FailureKind::BadInput, "{bad}");
            assert_eq!(failure.code, "invalid_address", "{bad}");
            assert!(failure.message.starts_with("address:"), "{bad}: {}", failure.message);
        }
    }

    #[test]
    fn names_are_trimmed_and_must_not_be_empty() {
        assert_eq!(valid_name("  Recorder 1 ").unwrap(), "Recorder 1");
        assert_eq!(valid_name(" ").unwrap_err().code, "invalid_name");
        assert_eq!(valid_name(&"x".repeat(101)).unwrap_err().code, "invalid_name");
        assert_eq!(valid_name("a\nb").unwrap_err().code, "invalid_name");
    }
}
