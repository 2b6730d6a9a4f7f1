//! The copy-task service's routes: StartDataCopy, UpdateClientInfo, UpdateFailoverTaskStates.

use super::CopyService;
use super::queue::{Added, NewTask, QueueError};
use crate::error::ApiError;
use crate::time::ceil_micros;
use agent_api::{CopyTask, ErrorBody, Peer, StartDataCopy, paths};
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

impl From<QueueError> for ApiError {
    fn from(error: QueueError) -> Self {
        ApiError::internal(error)
    }
}

/// A task as the API shows it: without the grant it pulls with.
fn reported(mut task: CopyTask) -> CopyTask {
    task.source = task.source.reported();
    task
}

fn no_such_task(id: i64) -> ApiError {
    ApiError::NotFound(format!("There is no copy task {id}."))
}

/// StartDataCopy: copy what the failover server recorded for a recorder in [from, to)
///
/// One task per failover: asking again answers 200 with its task (a failed one is queued again,
/// its failed channels copied from the start). Without `channels`, every channel the source
/// lists. Tasks are processed one at a time, channel by channel, slice by slice, then verified
/// by digests.
#[utoipa::path(post, path = paths::COPY_TASKS, tag = "copy-tasks",
    request_body = StartDataCopy,
    responses(
        (status = 201, description = "Queued", body = CopyTask),
        (status = 200, description = "The failover's task, already there", body = CopyTask),
        (status = 400, description = "Not a StartDataCopy, an empty period, or a source address that is not a URL", body = ErrorBody),
        (status = 409, description = "No channels given and the source could not list its own", body = ErrorBody),
    ))]
pub async fn start(
    State(copies): State<CopyService>,
    body: Result<Json<StartDataCopy>, JsonRejection>,
) -> Result<(StatusCode, Json<CopyTask>), ApiError> {
    let Json(request) =
        body.map_err(|rejection| ApiError::invalid_field("body", rejection.body_text()))?;
    let from = ceil_micros(request.from)
        .ok_or_else(|| ApiError::invalid_field("from", "is out of range"))?;
    let to =
        ceil_micros(request.to).ok_or_else(|| ApiError::invalid_field("to", "is out of range"))?;
    if from >= to {
        return Err(ApiError::invalid_field("to", "must be after from"));
    }
    if reqwest::Url::parse(&request.source.address).is_err() {
        return Err(ApiError::invalid_field("source.address", "is not a URL"));
    }
    let existing = copies.queue.list(Some(request.failover_id)).into_iter().next();
    let channels = if let (true, Some(existing)) = (request.channels.is_empty(), &existing) {
        // Asked again: the task's own channels, without asking the source.
        existing.channels.iter().map(|channel| (channel.channel.clone(), channel.kind)).collect()
    } else if request.channels.is_empty() {
        let listed = copies.pull.channels(&request.source).await.map_err(|error| {
            ApiError::Conflict(format!(
                "the failover server {} could not list its channels: {error}",
                request.source.name
            ))
        })?;
        listed.into_iter().map(|channel| (channel.id, channel.kind)).collect()
    } else {
        request.channels.into_iter().map(|channel| (channel.id, channel.kind)).collect()
    };
    let (added, task) = copies.queue.add(NewTask {
        failover_id: request.failover_id,
        source: request.source,
        recorder: request.recorder,
        from,
        to,
        channels,
    })?;
    let status = match added {
        Added::Created => StatusCode::CREATED,
        Added::Existing => StatusCode::OK,
    };
    Ok((status, Json(reported(task))))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only the task of this failover.
    failover_id: Option<i64>,
}

/// UpdateFailoverTaskStates: every copy task, or the one of a failover
#[utoipa::path(get, path = paths::COPY_TASKS, tag = "copy-tasks",
    params(ListQuery),
    responses(
        (status = 200, description = "OK", body = Vec<CopyTask>),
        (status = 400, description = "A malformed query", body = ErrorBody),
    ))]
pub async fn list(
    State(copies): State<CopyService>,
    Query(query): Query<ListQuery>,
) -> Json<Vec<CopyTask>> {
    Json(copies.queue.list(query.failover_id).into_iter().map(reported).collect())
}

/// UpdateFailoverTaskStates: one copy task
#[utoipa::path(get, path = paths::COPY_TASK, tag = "copy-tasks",
    params(("id" = i64, Path, description = "Copy task id")),
    responses(
        (status = 200, description = "OK", body = CopyTask),
        (status = 400, description = "Not a task id", body = ErrorBody),
        (status = 404, description = "No such task", body = ErrorBody),
    ))]
pub async fn one(
    State(copies): State<CopyService>,
    Path(id): Path<i64>,
) -> Result<Json<CopyTask>, ApiError> {
    copies.queue.get(id).map(|task| Json(reported(task))).ok_or_else(|| no_such_task(id))
}

/// UpdateClientInfo: where the failover server is now
///
/// Later attempts of the task use the new address.
#[utoipa::path(put, path = paths::COPY_TASK_CLIENT_INFO, tag = "copy-tasks",
    params(("id" = i64, Path, description = "Copy task id")),
    request_body = Peer,
    responses(
        (status = 200, description = "The task with its new source", body = CopyTask),
        (status = 400, description = "Not a peer, or an address that is not a URL", body = ErrorBody),
        (status = 404, description = "No such task", body = ErrorBody),
    ))]
pub async fn client_info(
    State(copies): State<CopyService>,
    Path(id): Path<i64>,
    body: Result<Json<Peer>, JsonRejection>,
) -> Result<Json<CopyTask>, ApiError> {
    let Json(peer) =
        body.map_err(|rejection| ApiError::invalid_field("body", rejection.body_text()))?;
    if reqwest::Url::parse(&peer.address).is_err() {
        return Err(ApiError::invalid_field("address", "is not a URL"));
    }
    copies
        .queue
        .move_source(id, peer)?
        .map(|task| Json(reported(task)))
        .ok_or_else(|| no_such_task(id))
}
