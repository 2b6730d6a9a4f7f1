//! Adding and editing servers: validation that names the field, then the store.

use super::Engine;
use crate::store::ServerSettings;
use app::failure::Failure;
use app::model::{NewServer, Server, ServerPatch, SystemEvent};
use reqwest::Url;

const MAX_NAME_CHARS: usize = 100;

impl Engine {
    pub(super) async fn insert_server(&self, new: NewServer) -> Result<Server, Failure> {
        let server = self.store.insert_server(&new_settings(new)?).await?;
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
        let settings = patched(&current, patch)?;
        let server = self
            .store
            .update_server(id, &settings)
            .await?
            .ok_or_else(|| Failure::not_found(format!("Server {id}")))?;
        tracing::info!(server = %server.name, "server settings changed");
        self.events.publish(SystemEvent::ServerChanged { server: server.clone() });
        Ok(server)
    }
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
    Ok(format!("{}://{host}:{port}", url.scheme()))
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
        for bad in
            ["", "   ", "ftp://x:1", "http://", "host:99999", "a b:1", "http://h:1/x", "u:p@h:1"]
        {
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
