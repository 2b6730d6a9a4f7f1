//! SQLite: one manager per database file. Two monitors on one file would race to fail over the
//! same recorder, so a second `standby serve` on the file refuses to start.

use super::{Leadership, ManagerInfo, Term, Trust};
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum SoleError {
    #[error(
        "another Standby manager is already running on {database}; an SQLite database has \
         exactly one manager (run several managers on one PostgreSQL database instead)"
    )]
    Taken { database: PathBuf },
    #[error("cannot lock {lock}: {source}")]
    Lock { lock: PathBuf, source: std::io::Error },
}

/// Held for as long as the manager runs; the operating system lets go of it when the process
/// ends, however it ends.
#[derive(Debug)]
pub struct FileLock {
    _file: File,
}

/// Locks `<database>.lock` beside the SQLite file.
pub fn lock(database: &Path) -> Result<FileLock, SoleError> {
    let mut lock = database.as_os_str().to_owned();
    lock.push(".lock");
    let lock = PathBuf::from(lock);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock)
        .map_err(|source| SoleError::Lock { lock: lock.clone(), source })?;
    match file.try_lock() {
        Ok(()) => Ok(FileLock { _file: file }),
        Err(TryLockError::WouldBlock) => Err(SoleError::Taken { database: database.to_owned() }),
        Err(TryLockError::Error(source)) => Err(SoleError::Lock { lock, source }),
    }
}

/// The SQLite file a `sqlite:` URL names, if it names one (not `:memory:`).
pub fn database_path(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && !path.contains(":memory:")).then(|| PathBuf::from(path))
}

impl Leadership {
    /// The only manager: it always leads. Epoch 0: its commands carry none.
    pub fn sole(me: ManagerInfo) -> Self {
        Leadership::with(me, Trust::Always, Term { leading: true, epoch: 0 }, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_file_is_refused_with_a_sentence() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let database = dir.path().join("standby.db");
        let first = lock(&database).expect("the first manager locks the file");
        let second = lock(&database).expect_err("a second manager is refused");
        assert!(second.to_string().starts_with("another Standby manager is already running on"));
        drop(first);
        lock(&database).expect("free again once the first has gone");
    }

    #[test]
    fn the_file_is_read_off_the_url() {
        assert_eq!(
            database_path("sqlite://data/standby.db?mode=rwc"),
            Some("data/standby.db".into())
        );
        assert_eq!(database_path("sqlite:/tmp/x.db"), Some("/tmp/x.db".into()));
        assert_eq!(database_path("sqlite::memory:"), None);
        assert_eq!(database_path("postgres://localhost/db"), None);
    }
}
