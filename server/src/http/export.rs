//! `GET /failovers.csv`: what the failover log page shows, as CSV, with the page's own query.
//! A download link rather than a data URL built into every render of the page.

use super::AppState;
use super::error::ApiError;
use super::identify::AuthenticatedCaller;
use app::model::FailoverFilter;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use std::collections::HashMap;

pub async fn failover_log_csv(
    State(state): State<AppState>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
    Query(query): Query<HashMap<String, String>>,
) -> Result<impl IntoResponse, ApiError> {
    let filter = FailoverFilter::from_page_query(|key| query.get(key).cloned());
    let view = state.console.failover_log_view(&caller, filter).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"failover-log.csv\""),
        ],
        view.csv(),
    ))
}
