//! Material copying (the seed's DVRFailoverService), run by a repaired recorder: it pulls what a
//! failover server recorded for it during a failover period into its own archive and proves the
//! copy complete by digests.
//!
//! - [`queue`]: the persisted tasks, their claiming and state changes;
//! - [`worker`]: one task at a time, channel by channel, slice by slice, then verification;
//! - [`pull`]: the paced requests to the failover server (playback, search, digest);
//! - [`handlers`]: StartDataCopy, UpdateClientInfo and UpdateFailoverTaskStates over HTTP.
//!
//! The worker is given only what it works on (the archive, the queue, the pull client and its
//! configuration); the handlers only the queue and the pull client.

pub mod handlers;
pub mod pull;
pub mod queue;
pub mod worker;

pub use pull::PullClient;
pub use queue::TaskQueue;
pub use worker::{CopyConfig, Worker};

use std::sync::Arc;

/// What the copy-task routes work with.
#[derive(Clone)]
pub struct CopyService {
    pub queue: Arc<TaskQueue>,
    pub pull: PullClient,
}
