//! The material-copy task service (the seed's DVRFailoverService: StartDataCopy,
//! UpdateClientInfo, UpdateFailoverTaskStates). Its paths are reserved in `API.md`; this build
//! answers them with 501 until the service lands (issue 7).

use crate::error::ApiError;

pub async fn not_yet() -> ApiError {
    ApiError::NotImplemented(
        "The material-copy task service (StartDataCopy, UpdateClientInfo, UpdateFailoverTaskStates) is not in this build yet."
            .into(),
    )
}
