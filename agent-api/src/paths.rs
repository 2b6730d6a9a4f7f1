//! The recorder API's paths, as axum routes them and OpenAPI documents them (`{id}` for a path
//! parameter); a client fills them in with [`with_id`].

pub const HEALTH: &str = "/api/v1/health";
/// Newline-delimited JSON: one [`crate::Health`] line at once, then one per interval, for as long
/// as the caller keeps the connection. A closed connection is how a watcher learns of a death.
pub const HEALTH_STREAM: &str = "/api/v1/health/stream";
pub const OPENAPI: &str = "/api/v1/openapi.json";
pub const SETTINGS: &str = "/api/v1/settings";
pub const ACTING: &str = "/api/v1/acting";
pub const CHANNELS: &str = "/api/v1/channels";
pub const CHANNEL_DIGEST: &str = "/api/v1/channels/{id}/digest";
pub const CHANNEL_COVERAGE: &str = "/api/v1/channels/{id}/coverage";
pub const CHANNEL_PLAYBACK: &str = "/api/v1/channels/{id}/playback";
pub const CHANNEL_RECORDS: &str = "/api/v1/channels/{id}/records";
pub const CHANNEL_ANPR: &str = "/api/v1/channels/{id}/anpr";
pub const CHANNEL_ALARMS: &str = "/api/v1/channels/{id}/alarms";
pub const COPY_TASKS: &str = "/api/v1/copy-tasks";
pub const COPY_TASK: &str = "/api/v1/copy-tasks/{id}";
pub const COPY_TASK_CLIENT_INFO: &str = "/api/v1/copy-tasks/{id}/client-info";
/// Rotating the agent's secret (the old one stays accepted for a grace period).
pub const CREDENTIAL: &str = "/api/v1/credential";

/// `template` with its `{id}` replaced. Channel ids need no escaping: their alphabet is safe in
/// a path (see [`crate::valid_channel_id`]).
pub fn with_id(template: &str, id: impl std::fmt::Display) -> String {
    template.replacen("{id}", &id.to_string(), 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_fill_the_template() {
        assert_eq!(with_id(CHANNEL_DIGEST, "video-1"), "/api/v1/channels/video-1/digest");
        assert_eq!(with_id(COPY_TASK_CLIENT_INFO, 7), "/api/v1/copy-tasks/7/client-info");
    }
}
