//! A channel's records over HTTP: digest, playback, ingest of copied material, and the paged
//! ANPR and alarm searches.

use super::params::{AlarmQuery, AnprQuery, Params, RangeQuery, RawQuery, RemoveQuery};
use crate::agent::Agent;
use crate::archive::channel::ChannelArchive;
use crate::error::ApiError;
use crate::ingest;
use crate::search::{self, Cursor, Filter};
use crate::time::{Micros, TimeRange, now_micros};
use crate::{digest, holdings, playback, removal, wire};
use agent_api::{
    ChannelHoldings, ChannelKind, Digest, ErrorBody, IngestOutcome, Removed, SearchPage, paths,
};
use axum::Json;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// Framed records back to back (see API.md): the playback and ingest body.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
#[expect(dead_code, reason = "only describes the body for the document")]
struct FramedRecords(Vec<u8>);

fn channel(
    agent: &Agent,
    id: Result<Path<String>, PathRejection>,
) -> Result<Arc<ChannelArchive>, ApiError> {
    let Path(id) = id.map_err(|e| ApiError::bad_request(e.body_text()))?;
    agent
        .archive
        .channel(&id)
        .ok_or_else(|| ApiError::NotFound(format!("There is no channel {id:?} on {}.", agent.name)))
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work).await.map_err(ApiError::internal)?.map_err(ApiError::internal)
}

/// Count, payload bytes and SHA-256 of the records in [from, to)
///
/// In record order (timestamp, origin, sequence); SHA-256 over, per record, big-endian
/// `i64 timestamp_us ‖ u32 origin_len ‖ origin ‖ u64 payload_len ‖ payload`. Two archives
/// holding the same records hash the same, however their segments are cut.
#[utoipa::path(get, path = paths::CHANNEL_DIGEST, tag = "records",
    params(("id" = String, Path, description = "Channel id"), RangeQuery),
    responses(
        (status = 200, description = "OK", body = Digest),
        (status = 400, description = "A bad range or parameter; `field` names it", body = ErrorBody),
        (status = 404, description = "No such channel", body = ErrorBody),
    ))]
pub async fn channel_digest(
    State(agent): State<Arc<Agent>>,
    id: Result<Path<String>, PathRejection>,
    query: RawQuery,
) -> Result<Json<Digest>, ApiError> {
    let params = Params::parse::<RangeQuery>(query)?;
    let (range, origin) = (params.range()?, params.origin()?);
    let channel = channel(&agent, id)?;
    Ok(Json(blocking(move || digest::digest(&channel, range, origin)).await?))
}

/// Which stretches of [from, to) the channel holds, by the server that recorded them
///
/// The coverage listing: read from the records' headers (time, origin), not their payloads.
/// Records of one origin closer together than the stretch's `resolution_us` form one stretch;
/// see each stretch for its resolution.
#[utoipa::path(get, path = paths::CHANNEL_COVERAGE, tag = "records",
    params(("id" = String, Path, description = "Channel id"), RangeQuery),
    responses(
        (status = 200, description = "OK", body = ChannelHoldings),
        (status = 400, description = "A bad range or parameter; `field` names it", body = ErrorBody),
        (status = 404, description = "No such channel", body = ErrorBody),
    ))]
pub async fn channel_coverage(
    State(agent): State<Arc<Agent>>,
    id: Result<Path<String>, PathRejection>,
    query: RawQuery,
) -> Result<Json<ChannelHoldings>, ApiError> {
    let params = Params::parse::<RangeQuery>(query)?;
    let (range, origin) = (params.range()?, params.origin()?);
    let channel = channel(&agent, id)?;
    Ok(Json(blocking(move || holdings::holdings(&channel, range, origin.as_deref())).await?))
}

/// The records in [from, to) in record order, streamed as framed records
///
/// Memory on the agent is constant whatever the range. On a read error the response is aborted,
/// so a cut stream is never taken for a complete one.
#[utoipa::path(get, path = paths::CHANNEL_PLAYBACK, tag = "records",
    params(("id" = String, Path, description = "Channel id"), RangeQuery),
    responses(
        (status = 200, description = "Framed records back to back (see API.md), chunked",
            content_type = wire::MEDIA_TYPE, body = FramedRecords,
            headers(("x-standby-channel-kind" = ChannelKind, description = "The channel's kind"))),
        (status = 400, description = "A bad range or parameter; `field` names it", body = ErrorBody),
        (status = 404, description = "No such channel", body = ErrorBody),
    ))]
pub async fn channel_playback(
    State(agent): State<Arc<Agent>>,
    id: Result<Path<String>, PathRejection>,
    query: RawQuery,
) -> Result<Response, ApiError> {
    let params = Params::parse::<RangeQuery>(query)?;
    let (range, origin) = (params.range()?, params.origin()?);
    let channel = channel(&agent, id)?;
    let kind = channel.kind;
    let body = Body::from_stream(playback::stream(channel, range, origin));
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(wire::MEDIA_TYPE));
    headers.insert("x-standby-channel-kind", HeaderValue::from_static(kind.as_str()));
    Ok(response)
}

/// Remove the records one server made in [from, to) (a drill's recordings)
///
/// `origin` is required. Whole segments only: a segment that also holds records outside the
/// range or of another server, or is still being written to, is kept and counted in `kept`, so
/// nothing but that server's recordings of the range can go. Idempotent.
#[utoipa::path(delete, path = paths::CHANNEL_RECORDS, tag = "records",
    params(("id" = String, Path, description = "Channel id"), RemoveQuery),
    responses(
        (status = 200, description = "What was removed", body = Removed),
        (status = 400, description = "A bad range or parameter, or no `origin`; `field` names it", body = ErrorBody),
        (status = 404, description = "No such channel", body = ErrorBody),
    ))]
pub async fn remove_records(
    State(agent): State<Arc<Agent>>,
    id: Result<Path<String>, PathRejection>,
    query: RawQuery,
) -> Result<Json<Removed>, ApiError> {
    let params = Params::parse::<RemoveQuery>(query)?;
    let range = params.range()?;
    let origin = params.origin()?.ok_or_else(|| {
        ApiError::invalid_field("origin", "is required (the server whose records go)")
    })?;
    let channel = channel(&agent, id)?;
    Ok(Json(blocking(move || removal::remove(&channel, range, &origin)).await?))
}

/// Ingest copied records (idempotent; all or nothing per request)
///
/// The body is framed records in non-decreasing time order (a playback body as it is), also
/// accepted as `application/octet-stream`; it streams, with no size limit. A record whose
/// natural key (channel, timestamp, origin, SHA-256 of the payload) is already stored is counted
/// as a duplicate and not stored again.
#[utoipa::path(post, path = paths::CHANNEL_RECORDS, tag = "records",
    params(("id" = String, Path, description = "Channel id")),
    request_body(content = FramedRecords, content_type = wire::MEDIA_TYPE),
    responses(
        (status = 200, description = "Stored", body = IngestOutcome),
        (status = 400, description = "Not records of this channel (`invalid_records`, naming the record and byte offset); nothing stored", body = ErrorBody),
        (status = 404, description = "No such channel", body = ErrorBody),
        (status = 415, description = "Not the records media type", body = ErrorBody),
    ))]
pub async fn channel_ingest(
    State(agent): State<Arc<Agent>>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<IngestOutcome>, ApiError> {
    let channel = channel(&agent, id)?;
    let content_type =
        headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case(wire::MEDIA_TYPE)
        && !media.eq_ignore_ascii_case("application/octet-stream")
    {
        return Err(ApiError::UnsupportedMediaType(format!(
            "Send records as {} (the playback format), not {content_type:?}.",
            wire::MEDIA_TYPE
        )));
    }
    let window = ingest::window(TimeRange { from: Micros::MIN, to: Micros::MAX }, now_micros());
    let outcome = ingest::ingest_stream(channel.clone(), window, body.into_data_stream()).await?;
    tracing::info!(channel = %channel.id, received = outcome.received, stored = outcome.stored,
        duplicates = outcome.duplicates, "ingested records");
    Ok(Json(outcome))
}

fn search_query(params: &Params, filter: Filter) -> Result<search::Query, ApiError> {
    let after = params
        .get("cursor")
        .map(|text| {
            Cursor::decode(text).ok_or_else(|| {
                ApiError::invalid_field("cursor", "is not a cursor from a previous page")
            })
        })
        .transpose()?;
    let limit = params.number::<usize>("limit")?.unwrap_or(search::DEFAULT_LIMIT);
    if !(1..=search::MAX_LIMIT).contains(&limit) {
        return Err(ApiError::invalid_field(
            "limit",
            format!("must be between 1 and {}", search::MAX_LIMIT),
        ));
    }
    Ok(search::Query { range: params.range()?, origin: params.origin()?, after, limit, filter })
}

fn require_kind(channel: &ChannelArchive, kind: ChannelKind) -> Result<(), ApiError> {
    if channel.kind == kind {
        Ok(())
    } else {
        Err(ApiError::BadRequest {
            code: "wrong_channel_kind",
            field: None,
            message: format!(
                "Channel {:?} is a {} channel; this search needs an {kind} channel.",
                channel.id, channel.kind
            ),
        })
    }
}

/// ANPR reads in [from, to), paged
///
/// Pass `next_cursor` back as `cursor` for the next page; `null` means the last page.
#[utoipa::path(get, path = paths::CHANNEL_ANPR, tag = "records",
    params(("id" = String, Path, description = "An ANPR channel's id"), AnprQuery),
    responses(
        (status = 200, description = "OK", body = SearchPage),
        (status = 400, description = "A bad range, cursor or limit, or not an ANPR channel (`wrong_channel_kind`)", body = ErrorBody),
        (status = 404, description = "No such channel", body = ErrorBody),
    ))]
pub async fn anpr_search(
    State(agent): State<Arc<Agent>>,
    id: Result<Path<String>, PathRejection>,
    query: RawQuery,
) -> Result<Json<SearchPage>, ApiError> {
    let params = Params::parse::<AnprQuery>(query)?;
    let query =
        search_query(&params, Filter::Anpr { plate: params.get("plate").map(str::to_owned) })?;
    let channel = channel(&agent, id)?;
    require_kind(&channel, ChannelKind::Anpr)?;
    Ok(Json(blocking(move || search::search(&channel, &query)).await?))
}

/// Alarms in [from, to), paged
///
/// Pass `next_cursor` back as `cursor` for the next page; `null` means the last page.
#[utoipa::path(get, path = paths::CHANNEL_ALARMS, tag = "records",
    params(("id" = String, Path, description = "An alarm channel's id"), AlarmQuery),
    responses(
        (status = 200, description = "OK", body = SearchPage),
        (status = 400, description = "A bad range, cursor or limit, or not an alarm channel (`wrong_channel_kind`)", body = ErrorBody),
        (status = 404, description = "No such channel", body = ErrorBody),
    ))]
pub async fn alarm_search(
    State(agent): State<Arc<Agent>>,
    id: Result<Path<String>, PathRejection>,
    query: RawQuery,
) -> Result<Json<SearchPage>, ApiError> {
    let params = Params::parse::<AlarmQuery>(query)?;
    let query = search_query(&params, Filter::Alarm { alarm_id: params.number("alarm_id")? })?;
    let channel = channel(&agent, id)?;
    require_kind(&channel, ChannelKind::Alarm)?;
    Ok(Json(blocking(move || search::search(&channel, &query)).await?))
}
