//! The recorder agent API (`/api/v1/…` on every `standby-recorder`), as types: what the agent
//! sends and what the manager reads are the same definitions, so the two cannot drift apart.
//!
//! Only the wire lives here: the shapes, their JSON form and the checks a value must pass to be
//! what it claims (a settings bundle that is not a bundle is refused by whoever receives it).
//! With the `openapi` feature every type also describes itself as an OpenAPI schema.

pub mod acting;
pub mod channels;
pub mod copy;
pub mod coverage;
pub mod credential;
pub mod epoch;
pub mod error;
pub mod health;
#[cfg(feature = "openapi")]
pub mod openapi;
pub mod paths;
pub mod records;
pub mod settings;
pub mod time;

pub use acting::{ActAs, Acting, Previous, Stopped};
pub use channels::{Channel, ChannelKind, valid_channel_id};
pub use copy::{ChannelCopyState, CopyChannel, CopyStatus, CopyTask, Peer, StartDataCopy};
pub use coverage::{ChannelHoldings, Held, Removed};
pub use credential::{Grant, GrantError, NewSecret};
pub use error::ErrorBody;
pub use health::{Capacity, Health, Load, ServerKind};
pub use records::{Digest, IngestOutcome, SearchItem, SearchPage};
pub use settings::{InvalidSettings, SettingsBundle};
