//! The one error type of the HTTP edge: every failure becomes `{"error": code, "message": text}`
//! with the status that tells the client whose fault it was.

use agent_api::ErrorBody;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// An error as the API shows it. Lower layers have their own typed errors and convert into this
/// at the edge, so that the sentence a client reads is chosen deliberately.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request itself is wrong; `field` names the offending input when there is one.
    #[error("{message}")]
    BadRequest { code: &'static str, field: Option<String>, message: String },
    /// 401: no credential, or not this agent's.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: a credential that does not allow this request.
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such route or no such thing.
    #[error("{0}")]
    NotFound(String),
    /// 405: the route exists, the method does not.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// 409: the request is well-formed but conflicts with the agent's state.
    #[error("{0}")]
    Conflict(String),
    /// 415: a body of the wrong media type.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 501: a reserved path that this build does not serve yet.
    #[error("{0}")]
    NotImplemented(String),
    /// 500: our fault; the cause goes to the log, the client gets a sentence.
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::BadRequest { code: "bad_request", field: None, message: message.into() }
    }

    /// A 400 naming the query parameter or body field that is wrong.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let field = field.into();
        let message = format!("{field}: {}", message.into());
        ApiError::BadRequest { code: "invalid_field", field: Some(field), message }
    }

    /// Logs `cause` and returns a 500 whose message does not leak internals.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        ApiError::Internal("The recorder failed to complete the request; see its log.".into())
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::NotImplemented(_) => (StatusCode::NOT_IMPLEMENTED, "not_implemented"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = self.to_string();
        let field = match self {
            ApiError::BadRequest { field, .. } => field,
            _ => None,
        };
        let mut response =
            (status, Json(ErrorBody { error: code.to_owned(), field, message })).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}
