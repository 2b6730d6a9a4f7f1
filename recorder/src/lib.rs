//! `standby-recorder`: the reference recording server that Standby fails over from and back to.
//!
//! The crate is a library as well as a binary so that integration tests (and, if it wants, the
//! management server) can reuse the record wire format in [`wire`].

pub mod agent;
pub mod archive;
pub mod cli;
pub mod copy;
pub mod credential;
pub mod default_settings;
pub mod digest;
pub mod error;
pub mod holdings;
pub mod http;
pub mod ingest;
pub mod playback;
pub mod recording;
pub mod removal;
pub mod search;
pub mod startup;
pub mod synthetic;
pub mod time;
pub mod wire;
