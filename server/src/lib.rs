//! The management server of Standby: the engine and its adapters.
#![recursion_limit = "256"]

pub mod admin;
pub mod cli;
pub mod config;
pub mod credentials;
pub mod demo;
pub mod engine;
pub mod events;
pub mod http;
pub mod leadership;
pub mod monitor;
pub mod recorders;
pub mod relay;
pub mod settings_cache;
pub mod startup;
pub mod store;
