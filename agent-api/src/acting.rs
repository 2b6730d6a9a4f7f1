//! Acting as a failover server: `PUT /api/v1/acting` starts, `DELETE` stops, `GET` tells.

use crate::settings::SettingsBundle;
use serde::{Deserialize, Serialize};

/// Record as `recorder`, with its settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ActAs {
    pub recorder: String,
    pub settings: SettingsBundle,
}

/// Whom the agent acts for now, and the version of the settings it records by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Acting {
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub acting_for: Option<String>,
    pub settings_version: u64,
}

/// The answer to stop-acting: idle now, and what the failover period ended with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Stopped {
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub acting_for: Option<String>,
    pub settings_version: u64,
    /// The recorder it acted for and its settings as they stood at the stop (changes made
    /// during the failover period included), or `null` if it was idle already.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub previous: Option<Previous>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Previous {
    pub recorder: String,
    pub settings: SettingsBundle,
}
