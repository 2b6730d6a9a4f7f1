//! Times on the wire are RFC 3339. What the agent reports it writes in UTC with exactly six
//! fractional digits (`2026-01-02T03:04:05.123456Z`): its records are timed to the microsecond,
//! and a fixed width sorts and compares as text. Reading accepts any RFC 3339 offset.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serializer};

/// Formats a time as the agent reports it.
pub fn format_micros(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// `#[serde(with = "agent_api::time::micros")]` for a `DateTime<Utc>`.
pub mod micros {
    use super::*;

    pub fn serialize<S: Serializer>(
        time: &DateTime<Utc>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&format_micros(time))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<DateTime<Utc>, D::Error> {
        DateTime::<Utc>::deserialize(deserializer)
    }
}

/// `#[serde(with = "agent_api::time::micros_option")]` for an `Option<DateTime<Utc>>`.
pub mod micros_option {
    use super::*;

    pub fn serialize<S: Serializer>(
        time: &Option<DateTime<Utc>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match time {
            Some(time) => serializer.collect_str(&format_micros(time)),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<DateTime<Utc>>, D::Error> {
        Option::<DateTime<Utc>>::deserialize(deserializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn six_digits_whatever_the_fraction() {
        let whole = DateTime::<Utc>::from_timestamp_micros(1_000_000).expect("in range");
        assert_eq!(format_micros(&whole), "1970-01-01T00:00:01.000000Z");
        let fine = DateTime::<Utc>::from_timestamp_micros(1_700_000_000_123_456).expect("in range");
        assert_eq!(format_micros(&fine), "2023-11-14T22:13:20.123456Z");
    }
}
