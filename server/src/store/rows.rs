//! What every area's rows share: converting a batch, and naming a duplicate.

use super::StoreError;

/// Maps a unique-constraint violation on a name to its domain error.
pub fn duplicate(error: sqlx::Error, what: &'static str, name: &str) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Duplicate { what, name: name.to_owned() }
        }
        _ => StoreError::Database(error),
    }
}

/// The one row an `INSERT … RETURNING` gives, read with `fetch_all` so that the statement runs
/// to its end: SQLite reports a failed commit (a full disk) only on the step after the row,
/// which `fetch_one` never takes, so the caller was told of a row that was never stored.
pub fn first<R>(rows: Vec<R>) -> Result<R, StoreError> {
    rows.into_iter().next().ok_or(StoreError::Database(sqlx::Error::RowNotFound))
}

/// Converts every row, failing on the first that is not valid.
pub fn all<R, T: TryFrom<R, Error = StoreError>>(rows: Vec<R>) -> Result<Vec<T>, StoreError> {
    rows.into_iter().map(T::try_from).collect()
}

/// A server named by a row's joined id and name; `None` when the row names none.
pub fn server_ref(id: Option<i64>, name: Option<String>) -> Option<app::model::ServerRef> {
    match (id, name) {
        (Some(id), Some(name)) => Some(app::model::ServerRef { id, name }),
        _ => None,
    }
}
