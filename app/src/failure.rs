//! The one error shape every edge shows: a code for programs and a sentence for people.

use serde::{Deserialize, Serialize};
use std::fmt;

/// What went wrong, in the words of the contract's HTTP statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    BadInput,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    /// A request body larger than the manager takes.
    PayloadTooLarge,
    /// A body that is not JSON (or not said to be).
    UnsupportedMediaType,
    TooManyRequests,
    Unavailable,
    Internal,
}

impl FailureKind {
    pub fn http_status(self) -> u16 {
        match self {
            FailureKind::BadInput => 400,
            FailureKind::Unauthorized => 401,
            FailureKind::Forbidden => 403,
            FailureKind::NotFound => 404,
            FailureKind::MethodNotAllowed => 405,
            FailureKind::Conflict => 409,
            FailureKind::PayloadTooLarge => 413,
            FailureKind::UnsupportedMediaType => 415,
            FailureKind::TooManyRequests => 429,
            FailureKind::Unavailable => 503,
            FailureKind::Internal => 500,
        }
    }
}

/// A refusal or failure: `code` is stable for programs (e.g. `duplicate_name`), `message` is
/// the sentence shown to the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub struct Failure {
    pub kind: FailureKind,
    pub code: String,
    pub message: String,
    /// When trying again makes sense (a slowed-down login): the HTTP answer's `Retry-After`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_seconds: Option<u64>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Failure {
    pub fn new(kind: FailureKind, code: impl Into<String>, message: impl Into<String>) -> Self {
        Failure { kind, code: code.into(), message: message.into(), retry_after_seconds: None }
    }

    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after_seconds = Some(seconds);
        self
    }

    /// Bad input in one named field.
    pub fn invalid(field: &str, why: impl fmt::Display) -> Self {
        Failure::new(FailureKind::BadInput, format!("invalid_{field}"), format!("{field}: {why}"))
    }

    pub fn not_found(what: impl fmt::Display) -> Self {
        Failure::new(FailureKind::NotFound, "not_found", format!("{what} was not found."))
    }

    pub fn conflict(code: impl Into<String>, message: impl Into<String>) -> Self {
        Failure::new(FailureKind::Conflict, code, message)
    }

    pub fn not_logged_in() -> Self {
        Failure::new(
            FailureKind::Unauthorized,
            "not_logged_in",
            "You are not logged in, or your session has expired: log in again.",
        )
    }

    /// The cause is logged where it happened; the user gets a sentence without internals.
    pub fn internal() -> Self {
        Failure::new(
            FailureKind::Internal,
            "internal",
            "Something went wrong inside the manager; the details are in its log.",
        )
    }
}

mod server_fn_error {
    use super::{Failure, FailureKind};
    use leptos::server_fn::codec::JsonEncoding;
    use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};

    impl FromServerFnError for Failure {
        type Encoder = JsonEncoding;

        fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
            // Transport and decoding problems: the manager may be restarting.
            Failure::new(
                FailureKind::Unavailable,
                "unavailable",
                format!("The manager could not be reached: {value}"),
            )
        }
    }
}
