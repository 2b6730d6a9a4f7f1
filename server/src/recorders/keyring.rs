//! Which secret each agent accepts: read from the store once, kept in memory, so every call the
//! manager makes to an agent carries its credential without a database round trip.

use super::Endpoint;
use crate::store::{SharedStore, StoreError};
use app::model::Server;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

pub struct Keyring {
    store: SharedStore,
    known: RwLock<HashMap<i64, Option<AgentSecret>>>,
}

/// A secret that never shows in a log line or a debug print.
#[derive(Clone, PartialEq, Eq)]
pub struct AgentSecret(Arc<str>);

impl AgentSecret {
    pub fn new(secret: &str) -> Self {
        AgentSecret(Arc::from(secret))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for AgentSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AgentSecret(***)")
    }
}

impl Keyring {
    pub fn new(store: SharedStore) -> Self {
        Keyring { store, known: RwLock::default() }
    }

    /// How to reach the server's agent, with its secret when one was given.
    pub async fn endpoint(&self, server: &Server) -> Endpoint {
        let cached =
            self.known.read().unwrap_or_else(|poison| poison.into_inner()).get(&server.id).cloned();
        let secret = match cached {
            Some(secret) => secret,
            None => match self.store.server_secret(server.id).await {
                Ok(secret) => {
                    let secret = secret.as_deref().map(AgentSecret::new);
                    self.remember(server.id, secret.clone());
                    secret
                }
                Err(error) => {
                    // Not remembered, so the next call asks again.
                    tracing::warn!(%error, server = %server.name, "cannot read the agent's secret");
                    None
                }
            },
        };
        Endpoint { name: server.name.clone(), address: server.address.clone(), secret }
    }

    pub async fn set(&self, server_id: i64, secret: &str) -> Result<(), StoreError> {
        self.store.set_server_secret(server_id, secret).await?;
        self.remember(server_id, Some(AgentSecret::new(secret)));
        Ok(())
    }

    /// Forgets what is known about a server, e.g. after another manager changed it.
    pub fn forget(&self, server_id: i64) {
        self.known.write().unwrap_or_else(|poison| poison.into_inner()).remove(&server_id);
    }

    fn remember(&self, server_id: i64, secret: Option<AgentSecret>) {
        self.known.write().unwrap_or_else(|poison| poison.into_inner()).insert(server_id, secret);
    }
}
