//! The copy tasks, kept in `copy-tasks.json` in the data directory: written whole, synced and
//! renamed after every change, so a SIGKILL leaves the old or the new file and a restarted agent
//! resumes each task where its channels stopped.

use crate::time::{Micros, micros_to_time, now_micros};
use agent_api::{ChannelCopyState, ChannelKind, CopyStatus, CopyTask, Peer};
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

const FILE: &str = "copy-tasks.json";

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("reading {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("saving the copy tasks: {0}")]
    Save(std::io::Error),
}

/// A task to add: what StartDataCopy asks for, checked, with the channels resolved.
#[derive(Debug, Clone)]
pub struct NewTask {
    pub failover_id: i64,
    pub source: Peer,
    pub recorder: String,
    pub from: Micros,
    pub to: Micros,
    pub channels: Vec<(String, ChannelKind)>,
}

/// Whether [`TaskQueue::add`] created the task or found the failover's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    Created,
    Existing,
}

pub struct TaskQueue {
    path: PathBuf,
    tasks: Mutex<Vec<CopyTask>>,
    /// Rung on every change a waiting worker may act on.
    wake: tokio::sync::Notify,
}

impl TaskQueue {
    pub fn open(data_dir: &Path) -> Result<Self, QueueError> {
        let path = data_dir.join(FILE);
        let read = |source| QueueError::Read { path: path.clone(), source };
        let mut tasks: Vec<CopyTask> = match std::fs::read(&path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|e| read(std::io::Error::other(e)))?
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(error) => return Err(read(error)),
        };
        for task in &mut tasks {
            // A task interrupted mid-copy goes on where its channels stopped.
            if task.status == CopyStatus::Copying {
                requeue(task);
            }
        }
        Ok(TaskQueue { path, tasks: Mutex::new(tasks), wake: tokio::sync::Notify::new() })
    }

    fn lock(&self) -> MutexGuard<'_, Vec<CopyTask>> {
        self.tasks.lock().unwrap_or_else(|poison| poison.into_inner())
    }

    /// Every task, or the one of a failover.
    pub fn list(&self, failover_id: Option<i64>) -> Vec<CopyTask> {
        let tasks = self.lock();
        tasks
            .iter()
            .filter(|task| failover_id.is_none_or(|id| task.failover_id == id))
            .cloned()
            .collect()
    }

    pub fn get(&self, id: i64) -> Option<CopyTask> {
        self.lock().iter().find(|task| task.id == id).cloned()
    }

    /// The oldest task still to copy.
    pub fn next_waiting(&self) -> Option<i64> {
        let tasks = self.lock();
        tasks
            .iter()
            .find(|task| matches!(task.status, CopyStatus::Queued | CopyStatus::Copying))
            .map(|task| task.id)
    }

    /// Waits until a change may have given the worker something to do.
    pub async fn changed(&self) {
        self.wake.notified().await;
    }

    /// StartDataCopy: one task per failover. Asking again answers with the failover's task; a
    /// failed one is queued again, its failed channels copied from the start.
    pub fn add(&self, new: NewTask) -> Result<(Added, CopyTask), QueueError> {
        let answer = self.update(|tasks| {
            if let Some(task) = tasks.iter_mut().find(|task| task.failover_id == new.failover_id) {
                // Asking again brings a fresh grant for the same source.
                if new.source.grant.is_some() {
                    task.source.grant = new.source.grant.clone();
                }
                if task.status == CopyStatus::Failed {
                    task.status = CopyStatus::Queued;
                    task.error = None;
                    for channel in &mut task.channels {
                        if channel.status == CopyStatus::Failed {
                            channel.status = CopyStatus::Queued;
                            channel.copied_until = None;
                            channel.bytes = 0;
                        }
                    }
                }
                return (Added::Existing, task.clone());
            }
            let id = tasks.iter().map(|task| task.id).max().unwrap_or(0) + 1;
            let task = CopyTask {
                id,
                failover_id: new.failover_id,
                status: CopyStatus::Queued,
                source: new.source,
                recorder: new.recorder,
                from: micros_to_time(new.from),
                to: micros_to_time(new.to),
                error: None,
                channels: new
                    .channels
                    .into_iter()
                    .map(|(channel, kind)| ChannelCopyState {
                        channel,
                        kind,
                        status: CopyStatus::Queued,
                        copied_until: None,
                        bytes: 0,
                    })
                    .collect(),
                created_at: now(),
                updated_at: now(),
            };
            tasks.push(task.clone());
            (Added::Created, task)
        })?;
        self.wake.notify_one();
        Ok(answer)
    }

    /// UpdateClientInfo: where the failover server is now; `None` if there is no such task.
    pub fn move_source(&self, id: i64, source: Peer) -> Result<Option<CopyTask>, QueueError> {
        let task = self.update(|tasks| {
            let task = tasks.iter_mut().find(|task| task.id == id)?;
            // A move without a grant keeps the one the task has.
            let grant = source.grant.clone().or_else(|| task.source.grant.take());
            task.source = Peer { grant, ..source };
            task.updated_at = now();
            Some(task.clone())
        })?;
        self.wake.notify_one();
        Ok(task)
    }

    /// Changes one task (if it is there) and saves.
    pub fn set(&self, id: i64, change: impl FnOnce(&mut CopyTask)) -> Result<(), QueueError> {
        self.update(|tasks| {
            if let Some(task) = tasks.iter_mut().find(|task| task.id == id) {
                change(task);
                task.updated_at = now();
            }
        })
    }

    /// Changes one channel of a task (if both are there) and saves.
    pub fn set_channel(
        &self,
        id: i64,
        channel: &str,
        change: impl FnOnce(&mut ChannelCopyState),
    ) -> Result<(), QueueError> {
        self.set(id, |task| {
            if let Some(state) = channel_of(task, channel) {
                change(state);
            }
        })
    }

    /// Puts an interrupted task back in the queue with the reason it stopped.
    pub fn requeue(&self, id: i64, error: String) -> Result<(), QueueError> {
        self.set(id, |task| {
            requeue(task);
            task.error = Some(error);
        })
    }

    fn update<T>(&self, change: impl FnOnce(&mut Vec<CopyTask>) -> T) -> Result<T, QueueError> {
        let mut tasks = self.lock();
        let answer = change(&mut tasks);
        self.save(&tasks).map_err(QueueError::Save)?;
        Ok(answer)
    }

    fn save(&self, tasks: &[CopyTask]) -> std::io::Result<()> {
        let temporary = self.path.with_extension("json.tmp");
        let bytes = serde_json::to_vec_pretty(tasks).map_err(std::io::Error::other)?;
        {
            use std::io::Write;
            let mut file = std::fs::File::create(&temporary)?;
            file.write_all(&bytes)?;
            file.sync_all()?;
        }
        std::fs::rename(&temporary, &self.path)
    }
}

pub fn channel_of<'a>(task: &'a mut CopyTask, channel: &str) -> Option<&'a mut ChannelCopyState> {
    task.channels.iter_mut().find(|state| state.channel == channel)
}

/// Everything before this instant of the channel is copied.
pub fn copied_until_micros(channel: &ChannelCopyState) -> Option<Micros> {
    channel.copied_until.map(|time| time.timestamp_micros())
}

/// Back in the queue, the channel under way with it: nothing is copying until the worker takes
/// the task up again.
fn requeue(task: &mut CopyTask) {
    task.status = CopyStatus::Queued;
    for channel in &mut task.channels {
        if channel.status == CopyStatus::Copying {
            channel.status = CopyStatus::Queued;
        }
    }
}

/// Now, to the microsecond, as every time the task service reports.
fn now() -> DateTime<Utc> {
    micros_to_time(now_micros())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_task(failover_id: i64) -> NewTask {
        NewTask {
            failover_id,
            source: Peer { name: "fo-1".into(), address: "http://127.0.0.1:9".into(), grant: None },
            recorder: "rec-1".into(),
            from: 0,
            to: 20_000_000,
            channels: vec![
                ("audio-1".into(), ChannelKind::Audio),
                ("video-1".into(), ChannelKind::Video),
            ],
        }
    }

    #[test]
    fn one_task_per_failover_and_a_failed_one_is_retried() {
        let dir = tempfile::tempdir().expect("temp dir");
        let queue = TaskQueue::open(dir.path()).expect("opens");
        let (added, task) = queue.add(new_task(7)).expect("adds");
        assert_eq!((added, task.id, task.status), (Added::Created, 1, CopyStatus::Queued));
        let (added, again) = queue.add(new_task(7)).expect("adds");
        assert_eq!((added, again.id), (Added::Existing, 1));
        assert_eq!(queue.add(new_task(8)).expect("adds").1.id, 2);

        queue
            .set(1, |task| {
                task.status = CopyStatus::Failed;
                task.error = Some("Verification failed".into());
                task.channels[0].status = CopyStatus::Done;
                task.channels[1].status = CopyStatus::Failed;
                task.channels[1].copied_until = Some(micros_to_time(20_000_000));
                task.channels[1].bytes = 99;
            })
            .expect("saves");
        let (_, retried) = queue.add(new_task(7)).expect("adds");
        assert_eq!((retried.status, retried.error), (CopyStatus::Queued, None));
        assert_eq!(retried.channels[0].status, CopyStatus::Done, "a verified channel stays done");
        let video = &retried.channels[1];
        assert_eq!((video.status, video.copied_until, video.bytes), (CopyStatus::Queued, None, 0));
        assert_eq!(queue.list(Some(8)).len(), 1);
        assert_eq!(queue.list(None).len(), 2);
    }

    #[test]
    fn a_reopened_queue_resumes_an_interrupted_task_where_it_stopped() {
        let dir = tempfile::tempdir().expect("temp dir");
        let queue = TaskQueue::open(dir.path()).expect("opens");
        queue.add(new_task(7)).expect("adds");
        queue.set(1, |task| task.status = CopyStatus::Copying).expect("saves");
        queue
            .set_channel(1, "video-1", |state| {
                state.status = CopyStatus::Copying;
                state.copied_until = Some(micros_to_time(5_000_000));
            })
            .expect("saves");
        drop(queue);

        let reopened = TaskQueue::open(dir.path()).expect("reopens");
        let task = reopened.get(1).expect("kept");
        assert_eq!(task.status, CopyStatus::Queued);
        assert_eq!(task.channels[1].status, CopyStatus::Queued);
        assert_eq!(copied_until_micros(&task.channels[1]), Some(5_000_000));
        assert_eq!(reopened.next_waiting(), Some(1));
    }

    #[test]
    fn a_damaged_file_is_refused_rather_than_emptied() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join(FILE), b"[{").expect("writes");
        assert!(matches!(TaskQueue::open(dir.path()), Err(QueueError::Read { .. })));
    }
}
