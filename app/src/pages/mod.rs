pub mod audit;
pub mod dashboard;
pub mod failover_detail;
pub mod failovers;
pub mod login;
pub mod servers;
