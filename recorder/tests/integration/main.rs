//! The recorder's integration tests against real `standby-recorder` processes, one binary (one
//! link) for all: the agent (`agent`) and its material-copy task service (`copy`). The
//! processes come from testkit; `support` adds the record framing.

mod agent;
mod copy;
mod security;
mod support;
