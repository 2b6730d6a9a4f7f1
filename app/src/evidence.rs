//! The evidence timeline of a failover: for every channel of the recorder, where each stretch of
//! the failover period lives now. On the recorder as it recorded it; on the recorder as copied
//! from a failover server; only on a failover server (not copied yet); or nowhere, a gap.
//!
//! The engine asks the recorder and each failover server of the period for their coverage
//! listings and [`combine`]s them; pages, the CSV and the report show the result.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where a stretch of a channel's material lives, best first: a stretch held in two places is
/// shown where it is safest (on the recorder).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Place {
    /// On the recorder, recorded there.
    Recorder,
    /// On the recorder, copied from the failover server that recorded it.
    Copied,
    /// Only on the failover server that recorded it: not copied (yet).
    FailoverServer,
    /// Nowhere that answered.
    Missing,
}

impl Place {
    pub fn as_str(self) -> &'static str {
        match self {
            Place::Recorder => "recorder",
            Place::Copied => "copied",
            Place::FailoverServer => "failover_server",
            Place::Missing => "missing",
        }
    }

    /// In words, for the legend and the report.
    pub fn label(self) -> &'static str {
        match self {
            Place::Recorder => "On the recorder",
            Place::Copied => "Copied to the recorder",
            Place::FailoverServer => "Only on the failover server",
            Place::Missing => "Missing",
        }
    }

    pub const ALL: [Place; 4] =
        [Place::Recorder, Place::Copied, Place::FailoverServer, Place::Missing];
}

/// One stretch of a channel: `[from, to)`, where it lives and which server recorded it (none for
/// a gap).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Stretch {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    #[serde(rename = "where")]
    pub place: Place,
    #[cfg_attr(feature = "ssr", schema(required = true))]
    pub server: Option<String>,
}

impl Stretch {
    pub fn seconds(&self) -> f64 {
        (self.to - self.from).num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6
    }
}

/// A server whose listing is not in the timeline, and why: what it holds is unknown, so a
/// stretch shown missing may be on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Unanswered {
    pub server: String,
    pub reason: String,
}

/// `GET /api/v1/failovers/{id}/coverage`: one channel's stretches over the whole window, in
/// time order and without overlap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ChannelEvidence {
    pub channel: String,
    pub kind: String,
    pub intervals: Vec<Stretch>,
    #[serde(default)]
    pub unanswered: Vec<Unanswered>,
}

impl ChannelEvidence {
    /// Video, audio and metadata arrive at a steady pace, so a blank in them is material lost;
    /// text, ANPR and alarms arrive when something happens, and a blank may be a quiet spell.
    pub fn is_steady(&self) -> bool {
        matches!(self.kind.as_str(), "video" | "audio" | "metadata")
    }

    pub fn gaps(&self) -> impl Iterator<Item = &Stretch> {
        self.intervals.iter().filter(|stretch| stretch.place == Place::Missing)
    }
}

/// What one server holds of a channel: `(origin, from, to)` per stretch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holding {
    pub origin: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// One leg of the failover: the failover server that recorded for the recorder, the period it
/// did so, and what it holds of the channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leg {
    pub failover_server: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub held: Vec<Holding>,
}

/// Where each stretch of `[from, to)` lives, from the recorder's listing and each leg's.
///
/// The recorder's own records are `recorder`, its records of another origin `copied` from that
/// server. A failover server's records count only inside its leg's period (outside it, the same
/// channel id may be another recorder's) and only where the recorder does not hold the
/// stretch already. The rest is `missing`.
///
/// An event channel (`steady` false: text, ANPR, alarms) counts a quiet spell of minutes as
/// held, so the recorder's events before its death and after its return make one stretch over
/// the failover period; there the failover server's events are the evidence, and they are
/// shown before the recorder's.
pub fn combine(
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    recorder: &str,
    steady: bool,
    on_recorder: &[Holding],
    legs: &[Leg],
) -> Vec<Stretch> {
    let rank = |place: Place| match (steady, place) {
        (false, Place::Recorder) => 2,
        (false, Place::FailoverServer) => 1,
        (false, Place::Copied) => 0,
        (_, place) => place as u8,
    };
    let mut pieces: Vec<(DateTime<Utc>, DateTime<Utc>, Place, &str)> = Vec::new();
    for held in on_recorder {
        let place = if held.origin == recorder { Place::Recorder } else { Place::Copied };
        pieces.push((held.from, held.to, place, &held.origin));
    }
    for leg in legs {
        for held in leg.held.iter().filter(|held| held.origin == leg.failover_server) {
            pieces.push((
                held.from.max(leg.from),
                held.to.min(leg.to),
                Place::FailoverServer,
                &held.origin,
            ));
        }
    }
    pieces.retain(|(start, end, ..)| start < end && *end > from && *start < to);
    let mut bounds: Vec<DateTime<Utc>> = vec![from, to];
    for (start, end, ..) in &pieces {
        bounds.push((*start).clamp(from, to));
        bounds.push((*end).clamp(from, to));
    }
    bounds.sort();
    bounds.dedup();
    pieces.sort_by_key(|(start, ..)| *start);
    let mut stretches: Vec<Stretch> = Vec::new();
    for slice in bounds.windows(2) {
        let (start, end) = (slice[0], slice[1]);
        let best = pieces
            .iter()
            .take_while(|(piece_start, ..)| *piece_start < end)
            .filter(|(piece_start, piece_end, ..)| *piece_start <= start && *piece_end >= end)
            .map(|(_, _, place, server)| (rank(*place), *place, *server))
            .min()
            .map(|(_, place, server)| (place, server));
        let (place, server) = match best {
            Some((place, server)) => (place, Some(server.to_owned())),
            None => (Place::Missing, None),
        };
        match stretches.last_mut() {
            Some(last) if last.place == place && last.server == server && last.to == start => {
                last.to = end;
            }
            _ => stretches.push(Stretch { from: start, to: end, place, server }),
        }
    }
    stretches
}

/// The timeline as CSV: a line per stretch (`channel,kind,from,to,seconds,where,server`), times
/// in RFC 3339 UTC to the microsecond.
pub fn csv(channels: &[ChannelEvidence]) -> String {
    let mut out = String::from("channel,kind,from,to,seconds,where,server\n");
    for channel in channels {
        for stretch in &channel.intervals {
            out.push_str(&format!(
                "{},{},{},{},{:.6},{},{}\n",
                csv_field(&channel.channel),
                csv_field(&channel.kind),
                micros(&stretch.from),
                micros(&stretch.to),
                stretch.seconds(),
                stretch.place.as_str(),
                csv_field(stretch.server.as_deref().unwrap_or("")),
            ));
        }
    }
    out
}

fn micros(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// A field quoted when it needs to be; a leading `=`, `+`, `-` or `@` is defused so a
/// spreadsheet does not run it as a formula.
fn csv_field(text: &str) -> String {
    let text =
        if text.starts_with(['=', '+', '-', '@']) { format!("'{text}") } else { text.to_owned() };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// A duration in seconds as the gap list shows it: milliseconds below a minute, so a 600 ms
/// hole reads "0.600 s".
pub fn seconds_text(seconds: f64) -> String {
    if seconds < 60.0 { format!("{seconds:.3} s") } else { format!("{seconds:.1} s") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_800_000_000_000 + ms).expect("in range")
    }

    fn held(origin: &str, from: i64, to: i64) -> Holding {
        Holding { origin: origin.into(), from: at(from), to: at(to) }
    }

    fn shape(stretches: &[Stretch]) -> Vec<(i64, i64, Place, Option<&str>)> {
        let ms = |time: &DateTime<Utc>| (*time - at(0)).num_milliseconds();
        stretches.iter().map(|s| (ms(&s.from), ms(&s.to), s.place, s.server.as_deref())).collect()
    }

    #[test]
    fn a_failover_period_half_copied_shows_each_place_and_the_detection_gap() {
        // rec-1 records until 1000 ms and dies; fo-1 records 1600..5000 (its leg 1200..5000);
        // the copy has reached 3000; rec-1 records again from 5000.
        let on_recorder =
            [held("rec-1", 0, 1000), held("fo-1", 1600, 3000), held("rec-1", 5000, 6000)];
        let legs = [Leg {
            failover_server: "fo-1".into(),
            from: at(1200),
            to: at(5000),
            held: vec![held("fo-1", 1600, 5000), held("fo-1", 9000, 9500)],
        }];
        let stretches = combine((at(0), at(6000)), "rec-1", true, &on_recorder, &legs);
        assert_eq!(
            shape(&stretches),
            vec![
                (0, 1000, Place::Recorder, Some("rec-1")),
                (1000, 1600, Place::Missing, None),
                (1600, 3000, Place::Copied, Some("fo-1")),
                (3000, 5000, Place::FailoverServer, Some("fo-1")),
                (5000, 6000, Place::Recorder, Some("rec-1")),
            ]
        );
        assert_eq!(stretches[1].seconds(), 0.6);
    }

    #[test]
    fn a_failover_servers_records_outside_its_leg_are_another_recorders() {
        let legs = [Leg {
            failover_server: "fo-1".into(),
            from: at(100),
            to: at(200),
            held: vec![held("fo-1", 0, 300), held("fo-2", 100, 200)],
        }];
        let stretches = combine((at(0), at(300)), "rec-1", true, &[], &legs);
        assert_eq!(
            shape(&stretches),
            vec![
                (0, 100, Place::Missing, None),
                (100, 200, Place::FailoverServer, Some("fo-1")),
                (200, 300, Place::Missing, None),
            ]
        );
    }

    #[test]
    fn an_event_channels_recorder_stretch_over_the_period_gives_way_to_the_failover_servers_events()
    {
        let on_recorder = [held("rec-1", 0, 6000), held("fo-1", 1500, 3000)];
        let legs = [Leg {
            failover_server: "fo-1".into(),
            from: at(1000),
            to: at(5000),
            held: vec![held("fo-1", 1500, 4500)],
        }];
        let stretches = combine((at(0), at(6000)), "rec-1", false, &on_recorder, &legs);
        assert_eq!(
            shape(&stretches),
            vec![
                (0, 1500, Place::Recorder, Some("rec-1")),
                (1500, 3000, Place::Copied, Some("fo-1")),
                (3000, 4500, Place::FailoverServer, Some("fo-1")),
                (4500, 6000, Place::Recorder, Some("rec-1")),
            ]
        );
    }

    #[test]
    fn csv_has_a_line_per_stretch_and_defuses_formulas() {
        let channel = ChannelEvidence {
            channel: "=cmd".into(),
            kind: "video".into(),
            intervals: combine((at(0), at(1000)), "rec-1", true, &[held("rec-1", 0, 400)], &[]),
            unanswered: vec![],
        };
        let text = csv(&[channel]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[1].starts_with("'=cmd,video,2027-01-15T08:00:00.000000Z,"), "{text}");
        assert!(lines[2].ends_with(",0.600000,missing,"), "{text}");
        assert_eq!(seconds_text(0.6), "0.600 s");
    }
}
