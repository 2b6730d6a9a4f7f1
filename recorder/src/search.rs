//! ANPR and alarm search: plain request/response, paged by a cursor (the key of the last item
//! returned), so a copy or a UI walks any range without callbacks and without the server
//! holding more than a page.

use crate::archive::channel::ChannelArchive;
use crate::archive::reader::RangeReader;
use crate::time::{Micros, TimeRange, micros_to_time};
use crate::wire::Frame;
use agent_api::{SearchItem, SearchPage};
use serde_json::Value;
use std::cmp::Ordering;

pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 1000;

/// Position after which the next page starts: the order key of the last item returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub timestamp: Micros,
    pub sequence: u64,
    pub origin: String,
}

impl Cursor {
    /// `TIMESTAMP_US:SEQUENCE:ORIGIN` (origin last, as it may contain anything).
    pub fn encode(&self) -> String {
        format!("{}:{}:{}", self.timestamp, self.sequence, self.origin)
    }

    pub fn decode(text: &str) -> Option<Self> {
        let mut parts = text.splitn(3, ':');
        let timestamp = parts.next()?.parse().ok()?;
        let sequence = parts.next()?.parse().ok()?;
        let origin = parts.next()?.to_owned();
        (!origin.is_empty()).then_some(Cursor { timestamp, sequence, origin })
    }

    fn of(frame: &Frame<'_>) -> Self {
        Cursor {
            timestamp: frame.timestamp(),
            sequence: frame.sequence(),
            origin: frame.origin().to_owned(),
        }
    }

    /// Whether `frame` comes after the cursor in record order.
    fn is_before(&self, frame: &Frame<'_>) -> bool {
        self.timestamp
            .cmp(&frame.timestamp())
            .then_with(|| self.origin.as_str().cmp(frame.origin()))
            .then_with(|| self.sequence.cmp(&frame.sequence()))
            == Ordering::Less
    }
}

#[derive(Debug, Clone)]
pub enum Filter {
    /// Plates containing this text, case-insensitively.
    Anpr {
        plate: Option<String>,
    },
    Alarm {
        alarm_id: Option<u64>,
    },
}

#[derive(Debug, Clone)]
pub struct Query {
    pub range: TimeRange,
    pub origin: Option<String>,
    pub after: Option<Cursor>,
    pub limit: usize,
    pub filter: Filter,
}

/// Runs a search (blocking).
pub fn search(channel: &ChannelArchive, query: &Query) -> std::io::Result<SearchPage> {
    let from = match &query.after {
        Some(after) => query.range.from.max(after.timestamp),
        None => query.range.from,
    };
    let range = TimeRange { from, to: query.range.to };
    let mut reader = RangeReader::new(channel.views(&range), range, query.origin.clone());
    let mut items = Vec::new();
    let mut last = None;
    while let Some(frame) = reader.next_frame()? {
        if query.after.as_ref().is_some_and(|after| !after.is_before(&frame)) {
            continue;
        }
        let Ok(data) = serde_json::from_slice::<Value>(frame.payload()) else {
            // Ingest refuses such payloads; one recorded by an older build is skipped, not fatal.
            continue;
        };
        if !matches(&query.filter, &data) {
            continue;
        }
        if items.len() == query.limit {
            return Ok(SearchPage { items, next_cursor: last.map(|c: Cursor| c.encode()) });
        }
        last = Some(Cursor::of(&frame));
        items.push(SearchItem {
            time: micros_to_time(frame.timestamp()),
            timestamp_us: frame.timestamp(),
            origin: frame.origin().to_owned(),
            sequence: frame.sequence(),
            data,
            payload: String::from_utf8_lossy(frame.payload()).into_owned(),
        });
    }
    Ok(SearchPage { items, next_cursor: None })
}

fn matches(filter: &Filter, data: &Value) -> bool {
    match filter {
        Filter::Anpr { plate: None } | Filter::Alarm { alarm_id: None } => true,
        Filter::Anpr { plate: Some(wanted) } => data
            .get("plate")
            .and_then(Value::as_str)
            .is_some_and(|plate| plate.to_lowercase().contains(&wanted.to_lowercase())),
        Filter::Alarm { alarm_id: Some(wanted) } => {
            data.get("alarm_id").and_then(Value::as_u64) == Some(*wanted)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_with_any_origin() {
        let cursor = Cursor { timestamp: -5, sequence: 9, origin: "fo:1".into() };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        assert_eq!(Cursor::decode("1:2"), None);
        assert_eq!(Cursor::decode("x:2:o"), None);
    }
}
