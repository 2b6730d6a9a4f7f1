//! Record time: UTC microseconds since the Unix epoch, and the half-open ranges `[from, to)` that
//! every read takes.

use chrono::{DateTime, Utc};

/// Microseconds since 1970-01-01T00:00:00Z.
pub type Micros = i64;

/// The current wall-clock time in microseconds.
pub fn now_micros() -> Micros {
    Utc::now().timestamp_micros()
}

/// Formats a record time as RFC 3339 with microseconds, e.g. `2026-01-02T03:04:05.123456Z`.
pub fn format_micros(micros: Micros) -> String {
    match DateTime::<Utc>::from_timestamp_micros(micros) {
        Some(time) => agent_api::time::format_micros(&time),
        None => micros.to_string(),
    }
}

/// A record time as a date. Records found by a range given in RFC 3339 (years 0 to 9999) are
/// far inside chrono's range; only a time beyond it is clamped to its end.
pub fn micros_to_time(micros: Micros) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_micros(micros).unwrap_or(if micros < 0 {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    })
}

/// Parses an RFC 3339 instant into the first whole microsecond at or after it (see
/// [`ceil_micros`]).
pub fn parse_instant(text: &str) -> Result<Micros, String> {
    let time = DateTime::parse_from_rfc3339(text)
        .map_err(|e| format!("{text:?} is not an RFC 3339 time ({e})"))?
        .with_timezone(&Utc);
    ceil_micros(time).ok_or_else(|| format!("{text:?} is out of range"))
}

/// The first whole microsecond at or after `time`. Rounding up is what keeps `[from, to)` exact
/// when a client sends nanoseconds: a record at microsecond `t` lies at or after the instant `x`
/// exactly when `t >= ceil(x)`.
pub fn ceil_micros(time: DateTime<Utc>) -> Option<Micros> {
    let seconds = time.timestamp();
    let nanos = i64::from(time.timestamp_subsec_nanos());
    seconds.checked_mul(1_000_000).and_then(|micros| micros.checked_add((nanos + 999) / 1_000))
}

/// A half-open time range: `from` inclusive, `to` exclusive, `from < to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    pub from: Micros,
    pub to: Micros,
}

impl TimeRange {
    pub fn new(from: Micros, to: Micros) -> Result<Self, String> {
        if from < to { Ok(TimeRange { from, to }) } else { Err("must be before `to`".into()) }
    }

    pub fn contains(&self, time: Micros) -> bool {
        self.from <= time && time < self.to
    }

    /// Everything from the beginning of time to the end of time.
    pub fn all() -> Self {
        TimeRange { from: Micros::MIN, to: Micros::MAX }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rounds_up_to_the_microsecond() {
        assert_eq!(parse_instant("1970-01-01T00:00:01Z"), Ok(1_000_000));
        assert_eq!(parse_instant("1970-01-01T00:00:00.000001Z"), Ok(1));
        assert_eq!(parse_instant("1970-01-01T00:00:00.000000001Z"), Ok(1));
        assert_eq!(parse_instant("1970-01-01T01:00:00+01:00"), Ok(0));
        assert_eq!(parse_instant("1969-12-31T23:59:59.9999999Z"), Ok(0));
        assert!(parse_instant("yesterday").is_err());
    }

    #[test]
    fn dates_round_up_like_text() {
        let time = DateTime::parse_from_rfc3339("1970-01-01T00:00:00.000000001Z")
            .expect("valid")
            .with_timezone(&Utc);
        assert_eq!(ceil_micros(time), Some(1));
        assert_eq!(micros_to_time(1_500_000).timestamp_micros(), 1_500_000);
        assert_eq!(micros_to_time(Micros::MAX), DateTime::<Utc>::MAX_UTC);
    }

    #[test]
    fn formats_with_microseconds() {
        assert_eq!(format_micros(1_500_000), "1970-01-01T00:00:01.500000Z");
        let text = format_micros(1_700_000_000_123_456);
        assert_eq!(parse_instant(&text), Ok(1_700_000_000_123_456));
    }

    #[test]
    fn ranges_are_half_open_and_non_empty() {
        let range = TimeRange::new(10, 20).expect("valid range");
        assert!(range.contains(10) && range.contains(19));
        assert!(!range.contains(9) && !range.contains(20));
        assert!(TimeRange::new(5, 5).is_err());
        assert!(TimeRange::new(6, 5).is_err());
    }
}
