//! The evidence timeline of one failover log entry: every channel of the recorder, from a little
//! before the failover to a little after the failback, asked of the recorder and of each failover
//! server that recorded for it in that time, and combined into where each stretch lives now
//! ([`app::evidence::combine`]).

use super::Engine;
use crate::recorders::{ChannelHoldings, RecorderError};
use agent_api::ChannelKind;
use app::evidence::{ChannelEvidence, Holding, Leg, Unanswered, combine};
use app::failure::Failure;
use app::model::{Failover, FailoverFilter, Server};
use chrono::{DateTime, Duration, Utc};

/// Shown before the failover and after the failback: the recorder's own recording on both
/// sides, and the gap in between, are part of the evidence.
const MARGIN: Duration = Duration::seconds(10);
/// The end of an open period: a moment ago. The agents are asked up to now, so a server that
/// records shows a stretch through the end, and one that stopped within the last second is
/// judged a second later rather than at once.
const SETTLED: Duration = Duration::seconds(1);
/// The entries of the recorder looked at for legs overlapping the window.
const LEGS_LOOKED_AT: u32 = 100;

/// A failover server's part of the window.
struct LegSource {
    server: Server,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
}

impl Engine {
    pub(super) async fn failover_evidence(&self, id: i64) -> Result<Vec<ChannelEvidence>, Failure> {
        let entry = self
            .store
            .failover(id)
            .await?
            .ok_or_else(|| Failure::not_found(format!("Failover log entry {id}")))?;
        let recorder = self
            .store
            .server(entry.recorder.id)
            .await?
            .ok_or_else(|| Failure::not_found("The entry's recorder"))?;
        let now = Utc::now();
        let settled = now - SETTLED;
        let from = entry.failover_started_at - MARGIN;
        let to = entry.failback_finished_at.map_or(settled, |end| (end + MARGIN).min(settled));
        let to = to.max(from + Duration::seconds(1));
        // The agents time records to the microsecond: a window finer than that would end in a
        // sliver of "missing" no record could fill.
        let (from, to) = (to_micros(from), to_micros(to));
        let asked_to = if to >= settled { to_micros(now) } else { to };
        let legs = self.legs(&recorder, (from, asked_to), now).await?;
        let channels = self.recorder_channels(&recorder).await?;
        let recorder_at = self.keyring.endpoint(&recorder).await;
        let mut evidence = Vec::with_capacity(channels.len());
        for (channel, kind) in channels {
            let channel_id = channel.as_str();
            let on_recorder = self.recorders.holdings(&recorder_at, channel_id, from, asked_to);
            let on_legs = futures::future::join_all(legs.iter().map(|leg| async move {
                let at = self.keyring.endpoint(&leg.server).await;
                (leg, self.recorders.holdings(&at, channel_id, leg.from, leg.to).await)
            }));
            let (on_recorder, on_legs) = futures::join!(on_recorder, on_legs);
            let mut unanswered = Vec::new();
            let on_recorder = held(&recorder, on_recorder, &mut unanswered);
            let legs: Vec<Leg> = on_legs
                .into_iter()
                .map(|(leg, listing)| Leg {
                    failover_server: leg.server.name.clone(),
                    from: leg.from,
                    to: leg.to,
                    held: held(&leg.server, listing, &mut unanswered),
                })
                .collect();
            evidence.push(ChannelEvidence {
                intervals: combine(
                    (from, to),
                    &recorder.name,
                    kind.is_steady(),
                    &on_recorder,
                    &legs,
                ),
                channel,
                kind: kind.as_str().to_owned(),
                unanswered,
            });
        }
        Ok(evidence)
    }

    /// Every leg of the recorder's failovers that overlaps the window (a failover server lost
    /// mid-period hands over to the next under a new entry), clipped to it.
    async fn legs(
        &self,
        recorder: &Server,
        (from, to): (DateTime<Utc>, DateTime<Utc>),
        now: DateTime<Utc>,
    ) -> Result<Vec<LegSource>, Failure> {
        let filter = FailoverFilter {
            recorder_id: Some(recorder.id),
            limit: Some(LEGS_LOOKED_AT),
            ..FailoverFilter::default()
        };
        let mut legs = Vec::new();
        for entry in self.store.failovers(&filter).await? {
            let Some(server) = &entry.failover_server else { continue };
            let (start, end) = period(&entry, now);
            if end <= from || start >= to {
                continue;
            }
            let Some(server) = self.store.server(server.id).await? else { continue };
            legs.push(LegSource { server, from: start.max(from), to: end.min(to) });
        }
        Ok(legs)
    }

    /// The channels of the recorder's cached settings (what failover gave the failover server).
    async fn recorder_channels(
        &self,
        recorder: &Server,
    ) -> Result<Vec<(String, ChannelKind)>, Failure> {
        let cached = self.store.cached_settings(recorder.id).await?;
        let Some(channels) =
            cached.and_then(|cached| crate::settings_cache::channels(&cached.bundle))
        else {
            return Err(Failure::conflict(
                "no_settings",
                format!(
                    "The settings of {} were never read, so the manager does not know its channels.",
                    recorder.name
                ),
            ));
        };
        Ok(channels)
    }
}

fn to_micros(time: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(time.timestamp_micros()).unwrap_or(time)
}

/// When the leg's failover server recorded for the recorder: from the start of the failover to
/// the end of its failback (or its supersession), or until now while it goes on.
fn period(entry: &Failover, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    (entry.failover_started_at, entry.failback_finished_at.unwrap_or(now))
}

/// A listing as stretches; a channel the server has never held is an empty listing, and a
/// server that did not answer is named with why.
fn held(
    server: &Server,
    listing: Result<ChannelHoldings, RecorderError>,
    unanswered: &mut Vec<Unanswered>,
) -> Vec<Holding> {
    match listing {
        Ok(listing) => listing
            .stretches
            .into_iter()
            .map(|held| Holding { origin: held.origin, from: held.from, to: held.to })
            .collect(),
        Err(RecorderError::Refused { status: 404, .. }) => Vec::new(),
        Err(error) => {
            unanswered.push(Unanswered { server: server.name.clone(), reason: error.to_string() });
            Vec::new()
        }
    }
}
