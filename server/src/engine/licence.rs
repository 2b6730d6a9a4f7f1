//! The licence: whether failover is enabled, and how many failover servers may act at once.

use super::Engine;
use app::failure::Failure;
use app::model::{Licence, LicenceUpdate, SystemEvent};

impl Engine {
    pub(super) async fn current_licence(&self) -> Result<Licence, Failure> {
        Ok(self.store.licence().await?.unwrap_or(Licence {
            failover_enabled: false,
            failover_servers: 0,
            updated_at: None,
            updated_by: None,
        }))
    }

    pub(super) async fn change_licence(
        &self,
        update: LicenceUpdate,
        by: &str,
    ) -> Result<Licence, Failure> {
        if !(0..=10_000).contains(&update.failover_servers) {
            return Err(Failure::invalid("failover_servers", "must be between 0 and 10000."));
        }
        let licence = self.store.set_licence(&update, by).await?;
        self.events.publish(SystemEvent::Resync);
        Ok(licence)
    }
}
