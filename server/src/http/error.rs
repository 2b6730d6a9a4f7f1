//! Errors at the HTTP edge: `{ "error": code, "message": sentence }` with the right status.

use app::failure::{Failure, FailureKind};
use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

#[derive(Debug)]
pub struct ApiError(pub Failure);

/// The body of every error answer.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A stable code for programs, e.g. `duplicate_name`, `forbidden`, `no_license`.
    pub error: String,
    /// A sentence for people.
    pub message: String,
}

impl From<Failure> for ApiError {
    fn from(failure: Failure) -> Self {
        ApiError(failure)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.kind.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry_after = self.0.retry_after_seconds;
        let mut response =
            (status, Json(ErrorBody { error: self.0.code, message: self.0.message }))
                .into_response();
        if let Some(seconds) = retry_after {
            response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let failure = match &rejection {
            JsonRejection::MissingJsonContentType(_) => unsupported_media_type(),
            _ if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => too_large(),
            _ => Failure::new(
                FailureKind::BadInput,
                "invalid_body",
                format!("The request body is not valid: {}", rejection.body_text()),
            ),
        };
        ApiError(failure)
    }
}

pub fn unsupported_media_type() -> Failure {
    Failure::new(
        FailureKind::UnsupportedMediaType,
        "unsupported_media_type",
        "The request body must be JSON, sent with content-type: application/json.",
    )
}

pub fn too_large() -> Failure {
    Failure::new(
        FailureKind::PayloadTooLarge,
        "payload_too_large",
        format!("The request body is larger than the manager takes ({MAX_BODY_BYTES} bytes)."),
    )
}

/// No request to the API needs more: the largest is a failover group or a server's settings.
pub const MAX_BODY_BYTES: usize = 1 << 20;

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError(Failure::new(FailureKind::BadInput, "invalid_path", rejection.body_text()))
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError(Failure::new(FailureKind::BadInput, "invalid_query", rejection.body_text()))
    }
}

/// A known path asked with a method it does not take.
pub async fn method_not_allowed(
    method: axum::http::Method,
    axum::extract::OriginalUri(uri): axum::extract::OriginalUri,
) -> ApiError {
    ApiError(Failure::new(
        FailureKind::MethodNotAllowed,
        "method_not_allowed",
        format!("{} does not accept {method}.", uri.path()),
    ))
}

/// Unknown routes under `/api/` answer in JSON too.
pub async fn no_such_route(
    axum::extract::OriginalUri(uri): axum::extract::OriginalUri,
) -> ApiError {
    ApiError(Failure::new(
        FailureKind::NotFound,
        "not_found",
        format!("There is no API route at {}.", uri.path()),
    ))
}
