//! The recording loop: one thread that produces every configured channel's records when they
//! are due and appends them to the archive. One thread, because the work per record is a copy
//! and a `write`, and a thread per channel would only add context switches on a small machine.

use crate::archive::channel::ChannelArchive;
use crate::archive::segment::SegmentWriter;
use crate::synthetic::{Generator, VideoDefaults, noise_pool};
use crate::time::{Micros, now_micros};
use crate::wire::{self, Frame};
use agent_api::SettingsBundle;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct RecordingConfig {
    /// The origin stamped on every record: this server's name.
    pub origin: String,
    pub video: VideoDefaults,
    /// A segment is closed when it reaches this size…
    pub segment_max_bytes: u64,
    /// …or spans this long, so retention can free space in small steps.
    pub segment_max_duration: Micros,
}

/// What to record: the settings and the archive channel of each configured channel.
#[derive(Debug, Clone)]
pub struct Plan {
    pub settings: SettingsBundle,
    pub channels: Vec<Arc<ChannelArchive>>,
}

#[derive(Default)]
struct Shared {
    plan: Mutex<Option<Plan>>,
    generation: AtomicU64,
    /// The generation the loop has applied: its segments of an older plan are closed.
    applied: AtomicU64,
    stop: AtomicBool,
    recording: AtomicBool,
}

pub struct Recording {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Recording {
    pub fn start(config: RecordingConfig) -> std::io::Result<Self> {
        let shared = Arc::new(Shared::default());
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("recording".into())
            .spawn(move || Loop::new(config, thread_shared).run())?;
        Ok(Recording { shared, thread: Mutex::new(Some(thread)) })
    }

    /// Replaces what is recorded; `None` records nothing (an idle failover server). The loop
    /// applies it within a sleep of its own (at most 50 ms): see [`Recording::settled`].
    pub fn set_plan(&self, plan: Option<Plan>) {
        *self.shared.plan.lock().unwrap_or_else(|p| p.into_inner()) = plan;
        self.shared.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Waits (up to `limit`) until the latest plan is applied, so that whoever changed it is
    /// answered once the segments of the old plan are closed: a failover server told to stop
    /// has finished what it recorded, for whatever is done with it next. False if it was not.
    pub async fn settled(&self, limit: Duration) -> bool {
        let generation = self.shared.generation.load(Ordering::SeqCst);
        let deadline = std::time::Instant::now() + limit;
        while self.shared.applied.load(Ordering::SeqCst) < generation {
            if std::time::Instant::now() >= deadline || !self.is_alive() {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        true
    }

    fn is_alive(&self) -> bool {
        self.thread
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(|thread| !thread.is_finished())
    }

    /// Whether channels are being recorded. A recording thread that died (it should not) makes
    /// this false, so health shows the truth rather than the plan.
    pub fn is_recording(&self) -> bool {
        self.is_alive() && self.shared.recording.load(Ordering::SeqCst)
    }

    /// Stops the loop and waits until every open segment is synced and closed.
    pub fn stop(&self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        let thread = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(thread) = thread
            && thread.join().is_err()
        {
            tracing::error!("the recording thread panicked");
        }
    }
}

struct ChannelRecorder {
    archive: Arc<ChannelArchive>,
    generator: Generator,
    writer: Option<SegmentWriter>,
    sequence: u64,
    last_ts: Micros,
    failing: bool,
    /// After a failed write, records due before this are dropped without trying, so a full or
    /// broken disk costs one attempt a second, not one per frame.
    retry_at: Micros,
}

struct Loop {
    config: RecordingConfig,
    shared: Arc<Shared>,
    generation: u64,
    settings: Option<SettingsBundle>,
    channels: BTreeMap<String, ChannelRecorder>,
    payload: Vec<u8>,
    frame: Vec<u8>,
    noise: Arc<[u8]>,
}

/// Records further behind than this are skipped rather than produced in a burst, as a camera
/// drops frames when its server stalls.
const MAX_LAG: Micros = 1_000_000;
const SYNC_INTERVAL: Micros = 1_000_000;
const MAX_SLEEP: Micros = 50_000;
const RETRY_DELAY: Micros = 1_000_000;

impl Loop {
    fn new(config: RecordingConfig, shared: Arc<Shared>) -> Self {
        Loop {
            config,
            shared,
            generation: 0,
            settings: None,
            channels: BTreeMap::new(),
            payload: Vec::new(),
            frame: Vec::new(),
            noise: noise_pool(),
        }
    }

    fn run(mut self) {
        let mut last_sync = now_micros();
        let mut last_now = last_sync;
        while !self.shared.stop.load(Ordering::SeqCst) {
            let generation = self.shared.generation.load(Ordering::SeqCst);
            if generation != self.generation {
                self.generation = generation;
                let plan = self.shared.plan.lock().unwrap_or_else(|p| p.into_inner()).clone();
                self.apply(plan);
                self.shared.applied.store(generation, Ordering::SeqCst);
            }
            let now = now_micros();
            if now < last_now - MAX_LAG {
                self.clock_went_back(last_now - now);
            }
            last_now = now;
            let next_due = self.record_due(now);
            if now - last_sync >= SYNC_INTERVAL || now < last_sync {
                self.sync();
                last_sync = now;
            }
            let sleep = (next_due - now_micros()).clamp(1_000, MAX_SLEEP);
            std::thread::sleep(Duration::from_micros(sleep as u64));
        }
        self.apply(None);
    }

    /// The wall clock was set back: records keep their true time rather than being stamped
    /// after the last one. Segments hold records in time order, so each channel starts a new
    /// segment; reads merge overlapping segments anyway.
    fn clock_went_back(&mut self, by: Micros) {
        tracing::warn!(by_us = by, "the wall clock went back; starting new segments");
        let now = now_micros();
        for channel in self.channels.values_mut() {
            if let Some(writer) = channel.writer.take() {
                finish(&channel.archive, writer);
            }
            channel.last_ts = Micros::MIN;
            channel.generator.next_due = now;
        }
    }

    /// Moves to a new plan: channels that went away are closed, new ones start, changed ones
    /// keep their segment and get the new rates.
    fn apply(&mut self, plan: Option<Plan>) {
        let now = now_micros();
        let (settings, archives) = match plan {
            Some(plan) => (Some(plan.settings), plan.channels),
            None => (None, Vec::new()),
        };
        let mut next = BTreeMap::new();
        for archive in archives {
            let Some(channel) = settings.as_ref().and_then(|s| s.channel(&archive.id)) else {
                continue;
            };
            let generator = Generator::new(channel, self.config.video, self.noise.clone(), now);
            let recorder = match self.channels.remove(&archive.id) {
                Some(mut existing) if Arc::ptr_eq(&existing.archive, &archive) => {
                    existing.generator = generator;
                    existing
                }
                previous => {
                    if let Some(previous) = previous {
                        close(previous);
                    }
                    let sequence = archive.last_sequence(&self.config.origin).map_or(1, |s| s + 1);
                    ChannelRecorder {
                        archive,
                        generator,
                        writer: None,
                        sequence,
                        last_ts: Micros::MIN,
                        failing: false,
                        retry_at: Micros::MIN,
                    }
                }
            };
            next.insert(recorder.archive.id.clone(), recorder);
        }
        for (_, stale) in std::mem::replace(&mut self.channels, next) {
            close(stale);
        }
        self.shared.recording.store(!self.channels.is_empty(), Ordering::SeqCst);
        if let Some(settings) = &settings {
            tracing::info!(
                channels = self.channels.len(),
                version = settings.version,
                "recording plan applied"
            );
        } else {
            tracing::info!("recording nothing");
        }
        self.settings = settings;
    }

    /// Produces and appends every record due by `now`; returns when the next one is due.
    fn record_due(&mut self, now: Micros) -> Micros {
        let mut next_due = now + MAX_SLEEP;
        let Some(settings) = &self.settings else { return next_due };
        let wall: DateTime<Utc> = DateTime::from_timestamp_micros(now).unwrap_or_default();
        for (id, channel) in &mut self.channels {
            if !settings.scheduled(id, wall) {
                // Outside its schedule: nothing recorded, the segment closed, and the first
                // record due as soon as the schedule opens again.
                if let Some(writer) = channel.writer.take() {
                    finish(&channel.archive, writer);
                }
                channel.generator.next_due = now;
                continue;
            }
            if channel.generator.next_due < now - MAX_LAG {
                channel.generator.next_due = now;
            }
            while channel.generator.next_due <= now {
                // Strictly increasing per channel, whatever the clock does.
                let timestamp = channel.generator.next_due.max(channel.last_ts + 1);
                channel.generator.produce(timestamp, &mut self.payload);
                if now < channel.retry_at {
                    continue;
                }
                self.frame.clear();
                wire::encode_into(
                    &mut self.frame,
                    timestamp,
                    channel.sequence,
                    &self.config.origin,
                    &self.payload,
                );
                match append(channel, &self.config, &Frame::trusted(&self.frame), timestamp) {
                    Ok(()) => {
                        channel.sequence += 1;
                        channel.last_ts = timestamp;
                        if channel.failing {
                            tracing::info!(channel = %id, "recording works again");
                            channel.failing = false;
                        }
                    }
                    Err(error) => {
                        if !channel.failing {
                            tracing::error!(channel = %id, %error, "cannot record; records are lost until the archive accepts writes");
                            channel.failing = true;
                        }
                        if let Some(writer) = channel.writer.take() {
                            finish(&channel.archive, writer);
                        }
                        channel.retry_at = now + RETRY_DELAY;
                    }
                }
            }
            next_due = next_due.min(channel.generator.next_due);
        }
        next_due
    }

    fn sync(&mut self) {
        for (id, channel) in &mut self.channels {
            if let Some(writer) = channel.writer.as_mut()
                && let Err(error) = writer.sync()
            {
                tracing::error!(channel = %id, %error, "cannot sync a segment");
            }
        }
    }
}

fn append(
    channel: &mut ChannelRecorder,
    config: &RecordingConfig,
    frame: &Frame<'_>,
    timestamp: Micros,
) -> std::io::Result<()> {
    let roll = channel.writer.as_ref().is_some_and(|w| {
        w.info().len >= config.segment_max_bytes
            || (!w.info().is_empty()
                && timestamp - w.info().first_ts >= config.segment_max_duration)
            || !w.accepts(timestamp)
    });
    if roll && let Some(writer) = channel.writer.take() {
        finish(&channel.archive, writer);
    }
    let writer = match &mut channel.writer {
        Some(writer) => writer,
        None => channel.writer.insert(channel.archive.start_segment()?),
    };
    channel.archive.append(writer, frame)
}

fn finish(archive: &ChannelArchive, writer: SegmentWriter) {
    if let Err(error) = archive.finish_segment(writer) {
        tracing::error!(channel = %archive.id, %error, "cannot close a segment cleanly");
    }
}

fn close(channel: ChannelRecorder) {
    if let Some(writer) = channel.writer {
        finish(&channel.archive, writer);
    }
}
