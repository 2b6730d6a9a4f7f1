//! Query strings, checked by hand rather than by serde: unknown or repeated names are refused,
//! so a typo such as `start=` for `from=` is a 400 rather than a silently different request, and
//! each refusal names the parameter. The names allowed are those the query's documentation
//! lists, so the OpenAPI document and the check are one list.

use crate::error::ApiError;
use crate::time::{TimeRange, parse_instant};
use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use chrono::{DateTime, Utc};
use utoipa::IntoParams;
use utoipa::openapi::path::ParameterIn;

pub type RawQuery = Result<Query<Vec<(String, String)>>, QueryRejection>;

// The structs below are never built: they describe a query for the document and give
// `Params::parse` its names.

/// A time range of a channel's records.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(dead_code, reason = "documents the query; Params reads it")]
pub struct RangeQuery {
    /// Start of the range, inclusive (RFC 3339; rounded up to the microsecond).
    from: DateTime<Utc>,
    /// End of the range, exclusive (RFC 3339; rounded up to the microsecond).
    to: DateTime<Utc>,
    /// Only records recorded by this server.
    origin: Option<String>,
}

/// The records of one server in a range.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(dead_code, reason = "documents the query; Params reads it")]
pub struct RemoveQuery {
    /// Start of the range, inclusive (RFC 3339; rounded up to the microsecond).
    from: DateTime<Utc>,
    /// End of the range, exclusive (RFC 3339; rounded up to the microsecond).
    to: DateTime<Utc>,
    /// The server whose records go (required).
    origin: String,
}

/// A page of ANPR reads.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(dead_code, reason = "documents the query; Params reads it")]
pub struct AnprQuery {
    /// Start of the range, inclusive (RFC 3339; rounded up to the microsecond).
    from: DateTime<Utc>,
    /// End of the range, exclusive (RFC 3339; rounded up to the microsecond).
    to: DateTime<Utc>,
    /// Only records recorded by this server.
    origin: Option<String>,
    /// Plates containing this text (case-insensitive).
    plate: Option<String>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Items per page, 1 to 1000 (default 100).
    limit: Option<usize>,
}

/// A page of alarms.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(dead_code, reason = "documents the query; Params reads it")]
pub struct AlarmQuery {
    /// Start of the range, inclusive (RFC 3339; rounded up to the microsecond).
    from: DateTime<Utc>,
    /// End of the range, exclusive (RFC 3339; rounded up to the microsecond).
    to: DateTime<Utc>,
    /// Only records recorded by this server.
    origin: Option<String>,
    /// Only this alarm id.
    alarm_id: Option<u64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Items per page, 1 to 1000 (default 100).
    limit: Option<usize>,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(dead_code, reason = "documents the query; Params reads it")]
pub struct HealthStreamQuery {
    /// Milliseconds between heartbeats, 50 to 10000 (default 250).
    every_ms: Option<u64>,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(dead_code, reason = "documents the query; Params reads it")]
pub struct ReplaceSettingsQuery {
    /// Refuse with 409 unless the current version is this.
    expected_version: Option<u64>,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(dead_code, reason = "documents the query; Params reads it")]
pub struct StopActingQuery {
    /// Refuse with 409 if acting for another recorder.
    recorder: Option<String>,
}

/// A query string whose names have been checked against `T`'s documentation.
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse<T: IntoParams>(query: RawQuery) -> Result<Self, ApiError> {
        let allowed: Vec<String> =
            T::into_params(|| Some(ParameterIn::Query)).into_iter().map(|p| p.name).collect();
        let Query(pairs) = query.map_err(|e| {
            ApiError::bad_request(format!("The query string is malformed: {}", e.body_text()))
        })?;
        for (i, (name, _)) in pairs.iter().enumerate() {
            if !allowed.contains(name) {
                return Err(ApiError::invalid_field(
                    name.clone(),
                    format!("unknown parameter; expected {}", allowed.join(", ")),
                ));
            }
            if pairs[..i].iter().any(|(other, _)| other == name) {
                return Err(ApiError::invalid_field(name.clone(), "given more than once"));
            }
        }
        Ok(Params(pairs))
    }

    /// Pairs already read, unchecked (for a look at a request before its handler runs).
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        Params(pairs)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    fn time(&self, name: &str) -> Result<i64, ApiError> {
        let text = self
            .get(name)
            .ok_or_else(|| ApiError::invalid_field(name, "is required (an RFC 3339 time)"))?;
        parse_instant(text).map_err(|e| ApiError::invalid_field(name, e))
    }

    pub fn range(&self) -> Result<TimeRange, ApiError> {
        let (from, to) = (self.time("from")?, self.time("to")?);
        TimeRange::new(from, to).map_err(|e| ApiError::invalid_field("from", e))
    }

    pub fn origin(&self) -> Result<Option<String>, ApiError> {
        match self.get("origin") {
            Some("") => Err(ApiError::invalid_field("origin", "must not be empty")),
            other => Ok(other.map(str::to_owned)),
        }
    }

    pub fn number<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, ApiError> {
        self.get(name)
            .map(|text| {
                text.parse().map_err(|_| {
                    ApiError::invalid_field(name, format!("{text:?} is not a valid number"))
                })
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> RawQuery {
        Ok(Query(pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()))
    }

    fn refused_field(result: Result<Params, ApiError>) -> Option<String> {
        match result {
            Err(ApiError::BadRequest { field, .. }) => field,
            _ => None,
        }
    }

    #[test]
    fn the_documented_names_are_the_allowed_ones() {
        let range = [("from", "2001-01-01T00:00:00Z"), ("to", "2001-01-02T00:00:00Z")];
        let params = Params::parse::<RangeQuery>(query(&range)).map_err(|e| e.to_string());
        assert!(params.is_ok(), "{:?}", params.err());
        let with_plate = [range[0], range[1], ("plate", "AB")];
        assert_eq!(
            refused_field(Params::parse::<RangeQuery>(query(&with_plate))).as_deref(),
            Some("plate")
        );
        assert!(Params::parse::<AnprQuery>(query(&with_plate)).is_ok());
        let twice = [range[0], range[0]];
        assert_eq!(
            refused_field(Params::parse::<RangeQuery>(query(&twice))).as_deref(),
            Some("from")
        );
    }

    #[test]
    fn unknown_names_are_answered_with_the_documented_list_in_order() {
        let Err(error) = Params::parse::<AlarmQuery>(query(&[("start", "x")])) else {
            panic!("an unknown name is refused");
        };
        assert_eq!(
            error.to_string(),
            "start: unknown parameter; expected from, to, origin, alarm_id, cursor, limit"
        );
    }
}
