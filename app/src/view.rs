//! Shapes made for pages: what one screen needs in one round trip.

use crate::auth::Me;
use crate::model::Server;
use serde::{Deserialize, Serialize};

/// One demo recorder process that the Servers page can switch off and on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemoSwitch {
    pub server_id: i64,
    pub powered: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServersView {
    pub servers: Vec<Server>,
    /// Present only under `standby demo`.
    pub demo: Option<Vec<DemoSwitch>>,
    /// Who is looking: the page mirrors their rights.
    pub me: Me,
}

impl ServersView {
    pub fn switch_for(&self, server_id: i64) -> Option<&DemoSwitch> {
        self.demo.as_ref()?.iter().find(|switch| switch.server_id == server_id)
    }
}
