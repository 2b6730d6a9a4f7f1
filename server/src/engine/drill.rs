//! Drills ([`app::drill`]): an administrator's test failover of one recorder that leaves the
//! recorder undisturbed. The steps, as the drill log names them:
//!
//! 1. Would a failover succeed: this manager leads, the recorder records, and readiness finds
//!    nothing that would stop its failover; the failover server is chosen as failover would.
//! 2. The failover server starts recording: it acts for the recorder with the cached settings,
//!    beside the recorder (which is told nothing).
//! 3. Material arrives: after the drill's seconds, every video, audio and metadata channel holds
//!    material the failover server recorded, up to a moment ago.
//! 4. The recorder keeps recording: its own listing of the drill has no hole.
//! 5. The failover server stands by again.
//! 6. The drill's recordings are removed from the failover server, and its listing of the drill
//!    holds none of its own any more.
//!
//! A real failure wins. A failover that could use the drill's failover server, or of the drilled
//! recorder itself, cancels the drill at once, and waits until the failover server stands by
//! before it chooses one. A failover of the drilled recorder keeps the drill's recordings: they
//! are its cameras' footage of the moments before the failover.

use super::Engine;
use super::readiness::Site;
use crate::recorders::{Endpoint, Held, RecorderError};
use crate::store::{HealthRecord, NewDrillRow};
use agent_api::ChannelKind;
use app::drill::{Drill, DrillStatus, DrillStep, NewDrill};
use app::failure::Failure;
use app::model::{Server, ServerKind, ServerState, SystemEvent};
use app::text::thousands;
use chrono::{DateTime, Duration, Utc};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// How long a real failover waits for a drill's failover server to stand by.
const STAND_DOWN_WAIT: std::time::Duration = std::time::Duration::from_secs(5);
/// The newest record of a steady channel on the failover server is at most this old when the
/// material is checked: material still arrives, not only once at the start.
const FRESH: Duration = Duration::seconds(3);
/// The recorder's listing is judged from this long after the start to as long before the check
/// (a record is not due at every instant).
const SETTLE: Duration = Duration::seconds(1);
/// Drills the drill log shows.
pub const LOG_LENGTH: i64 = 200;

/// Why a real failure ends a drill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Cancel {
    /// The drilled recorder itself failed.
    RecorderFailed,
    /// Another recorder's failover may need the failover server.
    Needed { by: String },
}

/// A drill under way on this manager.
pub(super) struct Running {
    drill_id: i64,
    recorder_id: i64,
    recorder_name: String,
    server_id: i64,
    cancel: watch::Sender<Option<Cancel>>,
    /// Cancelled once the failover server stands by again.
    stood_down: CancellationToken,
}

/// The drills under way on this manager, by drill id, and the recorders whose drill is being
/// set up (so two requests at once cannot both start one).
#[derive(Default)]
pub(super) struct Drills {
    running: Mutex<HashMap<i64, Arc<Running>>>,
    starting: Mutex<HashSet<i64>>,
}

/// A recorder's drill being set up; let go when dropped.
struct Starting<'a> {
    drills: &'a Drills,
    recorder_id: i64,
}

impl Drop for Starting<'_> {
    fn drop(&mut self) {
        let mut starting = self.drills.starting.lock().unwrap_or_else(|poison| poison.into_inner());
        starting.remove(&self.recorder_id);
    }
}

impl Drills {
    /// The recorder's drill may be set up: none runs or is being set up for it.
    fn start(&self, recorder_id: i64) -> Result<Starting<'_>, Option<i64>> {
        if let Some(id) = self.of_recorder(recorder_id) {
            return Err(Some(id));
        }
        if !self.starting.lock().unwrap_or_else(|poison| poison.into_inner()).insert(recorder_id) {
            return Err(None);
        }
        Ok(Starting { drills: self, recorder_id })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Arc<Running>>> {
        self.running.lock().unwrap_or_else(|poison| poison.into_inner())
    }

    /// Whether a drill has `server` record for `recorder_name`.
    pub(super) fn claims(&self, server_id: i64, recorder_name: &str) -> bool {
        self.lock()
            .values()
            .any(|run| run.server_id == server_id && run.recorder_name == recorder_name)
    }

    fn of_recorder(&self, recorder_id: i64) -> Option<i64> {
        self.lock().values().find(|run| run.recorder_id == recorder_id).map(|run| run.drill_id)
    }

    fn all(&self) -> Vec<Arc<Running>> {
        self.lock().values().cloned().collect()
    }
}

/// What the failover server recorded in the drill, per channel.
struct Arrived {
    records: u64,
    channels: Vec<String>,
}

type StepResult<T> = Result<T, (DrillStep, String)>;

impl Engine {
    /// Starts a drill of `recorder_id`; the answer is the drill as it stands (running, or
    /// already failed at its first step). Refused without an entry in the drill log when the
    /// request itself cannot be: bad seconds, not a recorder, not the leader, one running.
    pub(super) async fn begin_drill(
        &self,
        recorder_id: i64,
        new: NewDrill,
        by: &str,
    ) -> Result<Drill, Failure> {
        let seconds = new.seconds().map_err(|why| Failure::invalid("seconds", why))?;
        let recorder = self
            .store
            .server(recorder_id)
            .await?
            .ok_or_else(|| Failure::not_found(format!("Server {recorder_id}")))?;
        if recorder.kind != ServerKind::Recorder {
            return Err(Failure::conflict(
                "not_a_recorder",
                format!("{} is a failover server: a drill fails over a recorder.", recorder.name),
            ));
        }
        if self.leadership.epoch().is_none() {
            return Err(Failure::conflict(
                "not_leader",
                "Drills run on the leading manager, and this one does not lead now: ask the leader (see Managers).",
            ));
        }
        let _starting = self.drills.start(recorder.id).map_err(|running| {
            let which = running.map(|id| format!(" (drill {id})")).unwrap_or_default();
            Failure::conflict(
                "drill_running",
                format!("A drill of {} is already running{which}.", recorder.name),
            )
        })?;
        if recorder.state != ServerState::Ok {
            return Err(Failure::conflict(
                "recorder_not_recording",
                format!(
                    "{} is {}: a drill needs a recorder that records, to check it is not disturbed.",
                    recorder.name,
                    recorder.state.label().to_lowercase()
                ),
            ));
        }
        let started_at = Utc::now();
        let row = NewDrillRow {
            recorder_id,
            failover_server_id: None,
            seconds,
            requested_by: by,
            at: started_at,
        };
        let id = self.store.begin_drill(&row).await?;
        tracing::info!(drill = id, recorder = %recorder.name, seconds, by, "drill started");
        // 1. Would a failover succeed now, and which failover server would it use?
        let chosen = match self.drill_readiness(&recorder).await {
            Ok(chosen) => chosen,
            Err(why) => {
                self.end_drill(id, DrillStatus::Failed, Some(DrillStep::Readiness), &why).await;
                return self.drill_now(id).await;
            }
        };
        let (server, bundle) = chosen;
        self.store.drill_step(id, DrillStep::Start, Some(server.id)).await?;
        let run = Arc::new(Running {
            drill_id: id,
            recorder_id: recorder.id,
            recorder_name: recorder.name.clone(),
            server_id: server.id,
            cancel: watch::Sender::new(None),
            stood_down: CancellationToken::new(),
        });
        // Claimed before the failover server acts, so the monitor does not take it for one
        // left acting and tell it to stop.
        self.drills.lock().insert(id, run.clone());
        let drill = self.drill_now(id).await?;
        let Some(engine) = self.me.upgrade() else {
            self.drills.lock().remove(&id);
            return Err(Failure::internal());
        };
        let seconds = Duration::seconds(i64::from(seconds));
        tokio::spawn(async move {
            engine.run_drill(run.clone(), recorder, server, bundle, started_at, seconds).await;
            engine.drills.lock().remove(&run.drill_id);
            run.stood_down.cancel();
        });
        Ok(drill)
    }

    /// Step 1: the recorder's readiness, and the failover server a failover would choose with
    /// the settings it would be given.
    async fn drill_readiness(
        &self,
        recorder: &Server,
    ) -> Result<(Server, serde_json::Value), String> {
        let site = Site::read(self).await.map_err(|error| error.to_string())?;
        let readiness = site.assess(recorder);
        if !readiness.covered {
            let reasons: Vec<String> =
                readiness.reasons.into_iter().map(|reason| reason.message).collect();
            return Err(format!(
                "A failover of {} would not succeed now. {}",
                recorder.name,
                reasons.join(" ")
            ));
        }
        let candidates =
            self.free_failover_servers(recorder).await.map_err(|error| error.to_string())?;
        let Some(server) = candidates.into_iter().next() else {
            return Err(format!(
                "No failover server is free to record beside {} now (each is acting, unreachable or in another drill).",
                recorder.name
            ));
        };
        let settings = self.store.cached_settings(recorder.id).await.map_err(|e| e.to_string())?;
        let Some(settings) = settings else {
            return Err(format!("No settings of {} were ever read.", recorder.name));
        };
        Ok((server, settings.bundle))
    }

    /// Steps 2 to 6, and the result in the drill log.
    async fn run_drill(
        &self,
        run: Arc<Running>,
        recorder: Server,
        server: Server,
        bundle: serde_json::Value,
        started_at: DateTime<Utc>,
        seconds: Duration,
    ) {
        let id = run.drill_id;
        let channels = crate::settings_cache::channels(&bundle).unwrap_or_default();
        let at = self.keyring.endpoint(&server).await;
        let mut cancelled = run.cancel.subscribe();
        let recording = self
            .drill_recording(id, &recorder, &server, &at, &bundle, &channels, started_at, seconds);
        // Steps 2 to 4, unless a real failure comes first.
        let outcome = tokio::select! {
            outcome = recording => Some(outcome),
            _ = cancelled.wait_for(Option::is_some) => None,
        };
        let cancel = run.cancel.borrow().clone();
        let outcome = match outcome {
            Some(outcome) => outcome,
            None => {
                let why = cancel_sentence(cancel.as_ref(), &recorder, &server);
                Err((self.drill_step_now(id).await, why))
            }
        };
        // 5. The failover server stands by again, whatever happened before (told to act, it
        //    may have started even when the answer was lost on the way).
        let mut failure = outcome.err();
        self.store.drill_step(id, DrillStep::Stop, None).await.ok();
        let stopped_at = match self.drill_stand_down(&server, &at, &recorder).await {
            Ok(at) => Some(at),
            Err(why) => {
                failure.get_or_insert((DrillStep::Stop, why));
                None
            }
        };
        run.stood_down.cancel();
        // 6. What the drill recorded goes, unless it is the footage of a real failure.
        let mut removed = None;
        if let Some(stopped_at) = stopped_at
            && cancel != Some(Cancel::RecorderFailed)
        {
            self.store.drill_step(id, DrillStep::Cleanup, None).await.ok();
            match self.drill_cleanup(&server, &at, &channels, started_at, stopped_at).await {
                Ok(found) => removed = Some(found),
                Err(why) => {
                    failure.get_or_insert((DrillStep::Cleanup, why));
                }
            }
        }
        let (status, step, message) = match (failure, &cancel) {
            (Some((step, why)), Some(_)) => (DrillStatus::Cancelled, Some(step), why),
            (Some((step, why)), None) => (DrillStatus::Failed, Some(step), why),
            (None, _) => {
                let (records, bytes) = removed.unwrap_or_default();
                let message = format!(
                    "{} recorded {}'s channels beside it for {} s and {} kept recording without a gap; the drill's {} records ({}) were removed from {}.",
                    server.name,
                    recorder.name,
                    seconds.num_seconds(),
                    recorder.name,
                    thousands(records as usize),
                    megabytes(bytes),
                    server.name
                );
                (DrillStatus::Passed, None, message)
            }
        };
        self.end_drill(id, status, step, &message).await;
    }

    /// Steps 2 to 4.
    #[expect(clippy::too_many_arguments, reason = "the drill's parts, each used by a step")]
    async fn drill_recording(
        &self,
        id: i64,
        recorder: &Server,
        server: &Server,
        at: &Endpoint,
        bundle: &serde_json::Value,
        channels: &[(String, ChannelKind)],
        started_at: DateTime<Utc>,
        seconds: Duration,
    ) -> StepResult<()> {
        // 2. The failover server records beside the recorder.
        if let Err(error) = self.recorders.act_for(at, &recorder.name, bundle).await {
            let why =
                format!("{} could not start recording for {}: {error}", server.name, recorder.name);
            return Err((DrillStep::Start, why));
        }
        // 3. Material arrives on the failover server: looked at once it has recorded a while.
        self.store.drill_step(id, DrillStep::Material, None).await.ok();
        self.publish_drill(id).await;
        tokio::time::sleep(seconds.to_std().unwrap_or_default()).await;
        let checked_at = Utc::now();
        let arrived = match self.drill_material(server, at, channels, started_at, checked_at).await
        {
            Ok(arrived) => arrived,
            Err(why) => return Err((DrillStep::Material, why)),
        };
        // 4. The recorder kept recording meanwhile.
        self.store.drill_step(id, DrillStep::RecorderUndisturbed, None).await.ok();
        self.publish_drill(id).await;
        if let Err(why) = self
            .drill_recorder_undisturbed(recorder, &arrived.channels, started_at, checked_at)
            .await
        {
            return Err((DrillStep::RecorderUndisturbed, why));
        }
        tracing::info!(drill = id, records = arrived.records, "drill material arrived");
        Ok(())
    }

    async fn drill_material(
        &self,
        server: &Server,
        at: &Endpoint,
        channels: &[(String, ChannelKind)],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Arrived, String> {
        let mut arrived = Arrived { records: 0, channels: Vec::new() };
        let mut missing = Vec::new();
        for (channel, _) in channels.iter().filter(|(_, kind)| kind.is_steady()) {
            let held =
                self.own_holdings(at, &server.name, channel, from, to).await.map_err(|error| {
                    format!("{} did not list what it recorded: {error}", server.name)
                })?;
            let records: u64 = held.iter().map(|held| held.records).sum();
            let fresh = held.last().is_some_and(|last| last.to >= to - FRESH);
            if records == 0 || !fresh {
                missing.push(channel.clone());
            } else {
                arrived.records += records;
                arrived.channels.push(channel.clone());
            }
        }
        if !missing.is_empty() {
            return Err(format!(
                "{} recorded nothing of {} in the last {} s of the drill.",
                server.name,
                missing.join(", "),
                FRESH.num_seconds()
            ));
        }
        Ok(arrived)
    }

    async fn drill_recorder_undisturbed(
        &self,
        recorder: &Server,
        channels: &[String],
        from: DateTime<Utc>,
        checked_at: DateTime<Utc>,
    ) -> Result<(), String> {
        let at = self.keyring.endpoint(recorder).await;
        for channel in channels {
            let held =
                self.own_holdings(&at, &recorder.name, channel, from, checked_at).await.map_err(
                    |error| format!("{} did not list what it recorded: {error}", recorder.name),
                )?;
            // A listing starts at the first record and ends at the last: a moment is left on
            // either side, where the next record was not due yet.
            let hole = longest_hole(&held, from + SETTLE, checked_at - SETTLE);
            if hole > Duration::zero() {
                return Err(format!(
                    "{} has a hole of {} ms in {} during the drill.",
                    recorder.name,
                    hole.num_milliseconds(),
                    channel
                ));
            }
        }
        Ok(())
    }

    /// Step 5: the failover server stops and counts as standing by; when it stopped.
    async fn drill_stand_down(
        &self,
        server: &Server,
        at: &Endpoint,
        recorder: &Server,
    ) -> Result<DateTime<Utc>, String> {
        self.recorders.stop_acting(at, &recorder.name).await.map_err(|error| {
            format!(
                "{} could not be told to stop recording for {}: {error}",
                server.name, recorder.name
            )
        })?;
        let stopped_at = Utc::now();
        // Standing by for a failover at once, before the monitor's next heartbeat says so.
        let standby = HealthRecord {
            server_id: server.id,
            read_state: ServerState::Acting,
            state: ServerState::Standby,
            seen_at: None,
        };
        if let Err(error) = self.store.record_health(&[standby]).await {
            tracing::warn!(%error, server = %server.name, "cannot record the drill's failover server standing by");
        }
        self.publish_servers(&[server.id]).await;
        Ok(stopped_at)
    }

    /// Step 6: every channel's drill records go, and none is listed any more; (records, bytes).
    async fn drill_cleanup(
        &self,
        server: &Server,
        at: &Endpoint,
        channels: &[(String, ChannelKind)],
        from: DateTime<Utc>,
        stopped_at: DateTime<Utc>,
    ) -> Result<(u64, u64), String> {
        // Removed a little past the stop (a record stamped late by a clock behind), but judged
        // to the stop: a failover that takes the failover server at once records after it.
        let removal_to = stopped_at + Duration::seconds(1);
        let (mut records, mut bytes) = (0, 0);
        for (channel, _) in channels {
            match self.recorders.remove_records(at, channel, &server.name, from, removal_to).await {
                Ok(removed) => {
                    records += removed.records;
                    bytes += removed.bytes;
                }
                // The failover server never created the channel: nothing to remove.
                Err(RecorderError::Refused { status: 404, .. }) => continue,
                Err(error) => {
                    return Err(format!(
                        "The drill's recordings of {channel} could not be removed from {}: {error}",
                        server.name
                    ));
                }
            }
            let left = self
                .own_holdings(at, &server.name, channel, from, stopped_at)
                .await
                .map_err(|error| format!("{} did not list what is left: {error}", server.name))?;
            let left: u64 = left.iter().map(|held| held.records).sum();
            if left > 0 {
                return Err(format!(
                    "{} still holds {} of the drill's records of {channel}.",
                    server.name,
                    thousands(left as usize)
                ));
            }
        }
        Ok((records, bytes))
    }

    /// What `origin` recorded of a channel on the server at `at` (a channel it never held: none).
    async fn own_holdings(
        &self,
        at: &Endpoint,
        origin: &str,
        channel: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Held>, RecorderError> {
        match self.recorders.holdings(at, channel, from, to).await {
            Ok(listing) => {
                Ok(listing.stretches.into_iter().filter(|held| held.origin == origin).collect())
            }
            Err(RecorderError::Refused { status: 404, .. }) => Ok(Vec::new()),
            Err(error) => Err(error),
        }
    }

    /// A real failover of `recorder` comes first: every drill it could need the failover server
    /// of, or of the recorder itself, is cancelled, and the failover waits (a few seconds at
    /// most) until their failover servers stand by.
    pub(super) async fn cancel_drills_for(&self, recorder: &Server) {
        let running = self.drills.all();
        if running.is_empty() {
            return;
        }
        let allowed = self.store.failover_candidates(recorder.id).await.unwrap_or_default();
        let mut waits = Vec::new();
        for run in running {
            let cancel = if run.recorder_id == recorder.id {
                Cancel::RecorderFailed
            } else if allowed.contains(&run.server_id) {
                Cancel::Needed { by: recorder.name.clone() }
            } else {
                continue;
            };
            tracing::warn!(drill = run.drill_id, recorder = %recorder.name, "a real failover cancels the drill");
            run.cancel.send_if_modified(|now| {
                let first = now.is_none();
                if first {
                    *now = Some(cancel);
                }
                first
            });
            waits.push(run.stood_down.clone());
        }
        for stood_down in waits {
            if tokio::time::timeout(STAND_DOWN_WAIT, stood_down.cancelled()).await.is_err() {
                tracing::warn!(recorder = %recorder.name, "a cancelled drill's failover server did not stand by in time");
            }
        }
    }

    /// At the start of a term: drills the log still has running that no drill here runs were
    /// cut off by the manager that ran them.
    pub(super) async fn end_orphaned_drills(&self) {
        let Ok(running) = self.store.running_drills().await else { return };
        for drill in running {
            if self.drills.lock().contains_key(&drill.id) {
                continue;
            }
            let server =
                drill.failover_server.as_ref().map_or("the failover server", |s| s.name.as_str());
            let message = format!(
                "The manager that ran this drill stopped before it ended; {server} is told to stop recording for {} by the monitor, and what it recorded in the drill may remain on it.",
                drill.recorder.name
            );
            self.end_drill(drill.id, DrillStatus::Failed, drill.step, &message).await;
        }
    }

    async fn end_drill(
        &self,
        id: i64,
        status: DrillStatus,
        step: Option<DrillStep>,
        message: &str,
    ) {
        match status {
            DrillStatus::Passed => tracing::info!(drill = id, "drill passed: {message}"),
            _ => tracing::warn!(
                drill = id,
                status = status.as_str(),
                step = step.map(DrillStep::as_str),
                "drill ended: {message}"
            ),
        }
        if let Err(error) = self.store.end_drill(id, status, step, message, Utc::now()).await {
            tracing::error!(drill = id, %error, "cannot record the drill's result");
        }
        self.publish_drill(id).await;
    }

    pub(super) async fn drill_now(&self, id: i64) -> Result<Drill, Failure> {
        self.store.drill(id).await?.ok_or_else(|| Failure::not_found(format!("Drill {id}")))
    }

    async fn drill_step_now(&self, id: i64) -> DrillStep {
        self.store
            .drill(id)
            .await
            .ok()
            .flatten()
            .and_then(|drill| drill.step)
            .unwrap_or(DrillStep::Start)
    }

    async fn publish_drill(&self, id: i64) {
        if let Ok(Some(drill)) = self.store.drill(id).await {
            self.events.publish(SystemEvent::DrillChanged { drill });
        }
    }

    pub(super) async fn drill_log(&self) -> Result<Vec<Drill>, Failure> {
        Ok(self.store.drills(LOG_LENGTH).await?)
    }
}

fn cancel_sentence(cancel: Option<&Cancel>, recorder: &Server, server: &Server) -> String {
    match cancel {
        Some(Cancel::RecorderFailed) => format!(
            "Cancelled: {} itself failed during the drill and is being failed over; what {} recorded in the drill is kept, as footage of the moments before the failover.",
            recorder.name, server.name
        ),
        Some(Cancel::Needed { by }) => format!(
            "Cancelled: {by} failed during the drill and its failover may need {}, so the drill stopped; its recordings were removed.",
            server.name
        ),
        None => "Cancelled.".to_owned(),
    }
}

/// The longest part of [from, to) no stretch covers.
fn longest_hole(held: &[Held], from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
    let mut stretches: Vec<(DateTime<Utc>, DateTime<Utc>)> =
        held.iter().map(|held| (held.from, held.to)).collect();
    stretches.sort();
    let (mut covered_to, mut longest) = (from, Duration::zero());
    for (start, end) in stretches {
        if start > covered_to {
            longest = longest.max(start.min(to) - covered_to);
        }
        covered_to = covered_to.max(end);
        if covered_to >= to {
            break;
        }
    }
    if covered_to < to {
        longest = longest.max(to - covered_to);
    }
    longest
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_000_000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(from_ms: i64, to_ms: i64) -> Held {
        let at = |ms| DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default();
        Held {
            origin: "rec-1".into(),
            from: at(from_ms),
            to: at(to_ms),
            records: 1,
            resolution_us: 300_000,
        }
    }

    #[test]
    fn the_longest_hole_counts_the_start_the_middle_and_the_end() {
        let at = |ms| DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default();
        let (from, to) = (at(1_000), at(2_000));
        assert_eq!(longest_hole(&[held(900, 2_100)], from, to), Duration::zero());
        assert_eq!(
            longest_hole(&[held(900, 1_400), held(1_450, 2_100)], from, to),
            Duration::milliseconds(50)
        );
        assert_eq!(longest_hole(&[held(1_200, 2_100)], from, to), Duration::milliseconds(200));
        assert_eq!(longest_hole(&[held(900, 1_700)], from, to), Duration::milliseconds(300));
        assert_eq!(longest_hole(&[], from, to), Duration::milliseconds(1_000));
    }
}
