//! The manager's integration tests, one binary (one link) for all: the REST API and the
//! server functions in process (`test_app`), and real `standby` and `standby-recorder`
//! processes through `testkit`. Tests run on threads of one process, so none of them may
//! change the environment or other process-wide state; what captures the process's log is a
//! binary of its own (`secrets_in_logs.rs`). Build the agent first: `cargo build -p recorder`.

mod test_app;

mod agent_secrets;
mod api;
mod database_away;
mod double_faults;
mod drill;
mod evidence;
mod failback;
mod failover;
mod managers;
mod material_copy;
mod monitor;
mod plain_logs;
mod readiness;
mod rights;
mod sessions;
mod store;
