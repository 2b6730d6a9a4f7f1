pub mod audit;
pub mod login;
pub mod servers;
