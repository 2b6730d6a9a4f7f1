//! The agent's secret: read from `--secret-file`, or made on the first start as
//! `DATA_DIR/secret` (mode 0600) and kept; rotated through the API with a grace period in which
//! the old secret is still accepted, so nothing has to restart (no recording gap).

use agent_api::credential::{self, Grant, GrantError};
use std::collections::HashSet;
use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

/// How long the previous secret is still accepted after a rotation.
pub const ROTATION_GRACE: Duration = Duration::from_secs(600);
/// Sources whose refusals have been logged; beyond this many, refusals are no longer logged
/// one by one (a scan of the whole network must not fill the log).
const REFUSALS_REMEMBERED: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("{context} {}: {source}", path.display())]
    Io { context: &'static str, path: PathBuf, source: std::io::Error },
    #[error("the secret in {} {reason}", path.display())]
    Invalid { path: PathBuf, reason: &'static str },
    #[error("the operating system's random generator failed: {0}")]
    Random(String),
}

/// What a request presented, once checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presented {
    /// The agent's secret: everything is allowed.
    Secret,
    /// A grant signed with the secret: the reads it covers.
    Grant(Grant),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("no credential was presented")]
    Missing,
    #[error("the credential is not this server's secret")]
    WrongSecret,
    #[error(transparent)]
    Grant(#[from] GrantError),
}

struct Keys {
    current: String,
    previous: Option<(String, Instant)>,
}

pub struct Credential {
    /// This server's name: grants are signed for it.
    name: String,
    file: PathBuf,
    keys: RwLock<Keys>,
    refused: Mutex<HashSet<IpAddr>>,
}

impl Credential {
    /// The secret from `secret_file`, or from `DATA_DIR/secret`, made there when missing.
    pub fn load(
        name: &str,
        data_dir: &Path,
        secret_file: Option<&Path>,
    ) -> Result<Self, CredentialError> {
        let file = match secret_file {
            Some(file) => file.to_owned(),
            None => {
                let file = data_dir.join("secret");
                if !file.exists() {
                    create(&file)?;
                }
                file
            }
        };
        let text = std::fs::read_to_string(&file).map_err(|source| CredentialError::Io {
            context: "reading the secret from",
            path: file.clone(),
            source,
        })?;
        let secret = text.trim().to_owned();
        credential::check_secret(&secret)
            .map_err(|reason| CredentialError::Invalid { path: file.clone(), reason })?;
        if let Ok(meta) = std::fs::metadata(&file)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(file = %file.display(), "the secret file can be read by other users; chmod 600 it");
        }
        Ok(Credential {
            name: name.to_owned(),
            file,
            keys: RwLock::new(Keys { current: secret, previous: None }),
            refused: Mutex::default(),
        })
    }

    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Checks a bearer token: the secret (or the previous one during a rotation's grace), or a
    /// grant signed with either for this server.
    pub fn check(&self, token: Option<&str>) -> Result<Presented, Refused> {
        let token = token.ok_or(Refused::Missing)?;
        let keys = self.keys.read().unwrap_or_else(|poison| poison.into_inner());
        let mut secrets = vec![keys.current.as_str()];
        if let Some((previous, until)) = &keys.previous
            && Instant::now() < *until
        {
            secrets.push(previous);
        }
        if credential::is_grant(token) {
            let now = chrono::Utc::now().timestamp();
            return Ok(Presented::Grant(Grant::verify(token, &secrets, &self.name, now)?));
        }
        if secrets.iter().any(|secret| credential::is_secret(token, secret)) {
            Ok(Presented::Secret)
        } else {
            Err(Refused::WrongSecret)
        }
    }

    /// Replaces the secret, in the file first (so a restart keeps the new one); the old one is
    /// accepted for [`ROTATION_GRACE`] more.
    pub fn rotate(&self, new: &str) -> Result<(), CredentialError> {
        write_secret(&self.file, new)?;
        let mut keys = self.keys.write().unwrap_or_else(|poison| poison.into_inner());
        let old = std::mem::replace(&mut keys.current, new.to_owned());
        keys.previous = Some((old, Instant::now() + ROTATION_GRACE));
        Ok(())
    }

    /// Whether a refusal from `source` is the first one (and should be logged).
    pub fn first_refusal_from(&self, source: IpAddr) -> bool {
        let mut refused = self.refused.lock().unwrap_or_else(|poison| poison.into_inner());
        refused.len() < REFUSALS_REMEMBERED && refused.insert(source)
    }
}

fn create(file: &Path) -> Result<(), CredentialError> {
    let secret =
        credential::new_secret().map_err(|error| CredentialError::Random(error.to_string()))?;
    write_secret(file, &secret)?;
    tracing::info!(file = %file.display(), "made a new secret; give its contents to the manager when adding this server");
    Ok(())
}

/// Writes the secret to a new file beside `file` (mode 0600), syncs it and renames it over
/// `file`, so a crash leaves the old secret or the new one, never half of one.
fn write_secret(file: &Path, secret: &str) -> Result<(), CredentialError> {
    let temporary = file.with_extension("new");
    let io = |context: &'static str, path: &Path| {
        let path = path.to_owned();
        move |source| CredentialError::Io { context, path, source }
    };
    let _ = std::fs::remove_file(&temporary);
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temporary)
        .map_err(io("creating", &temporary))?;
    writeln!(out, "{secret}").map_err(io("writing", &temporary))?;
    out.sync_all().map_err(io("syncing", &temporary))?;
    std::fs::rename(&temporary, file).map_err(io("renaming the new secret to", file))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_start_makes_a_private_secret_and_later_starts_keep_it() {
        let dir = tempfile::tempdir().expect("a directory");
        let first = Credential::load("rec-1", dir.path(), None).expect("made");
        let file = dir.path().join("secret");
        let mode = std::fs::metadata(&file).expect("written").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let secret = std::fs::read_to_string(&file).expect("readable").trim().to_owned();
        assert_eq!(first.check(Some(&secret)), Ok(Presented::Secret));
        let again = Credential::load("rec-1", dir.path(), None).expect("read");
        assert_eq!(again.check(Some(&secret)), Ok(Presented::Secret));
        assert_eq!(again.check(Some("not-the-secret-at-all")), Err(Refused::WrongSecret));
        assert_eq!(again.check(None), Err(Refused::Missing));
    }

    #[test]
    fn a_given_secret_file_must_hold_a_secret() {
        let dir = tempfile::tempdir().expect("a directory");
        let file = dir.path().join("given");
        std::fs::write(&file, "short\n").expect("written");
        let refused =
            Credential::load("rec-1", dir.path(), Some(&file)).err().map(|e| e.to_string());
        assert!(refused.is_some_and(|e| e.contains("at least 16")), "short secret accepted");
        let missing = dir.path().join("missing");
        assert!(Credential::load("rec-1", dir.path(), Some(&missing)).is_err());
        std::fs::write(&file, "a-given-secret-of-28-chars!!\n").expect("written");
        let given = Credential::load("rec-1", dir.path(), Some(&file)).expect("read");
        assert_eq!(given.check(Some("a-given-secret-of-28-chars!!")), Ok(Presented::Secret));
        assert!(!dir.path().join("secret").exists(), "no secret made beside a given one");
    }

    #[test]
    fn after_a_rotation_both_secrets_work_and_a_restart_keeps_the_new_one() {
        let dir = tempfile::tempdir().expect("a directory");
        let credential = Credential::load("fo-1", dir.path(), None).expect("made");
        let old = std::fs::read_to_string(dir.path().join("secret")).expect("read");
        credential.rotate("the-rotated-secret-of-fo-1").expect("rotated");
        assert_eq!(credential.check(Some(old.trim())), Ok(Presented::Secret));
        assert_eq!(credential.check(Some("the-rotated-secret-of-fo-1")), Ok(Presented::Secret));
        let grant = Grant {
            source: "fo-1".into(),
            recorder: "rec-1".into(),
            channels: vec![],
            from: 0,
            to: 1,
            expires: chrono::Utc::now().timestamp() + 60,
        };
        let signed_with_old = grant.sign(old.trim());
        assert_eq!(credential.check(Some(&signed_with_old)), Ok(Presented::Grant(grant.clone())));
        let restarted = Credential::load("fo-1", dir.path(), None).expect("read");
        assert_eq!(restarted.check(Some("the-rotated-secret-of-fo-1")), Ok(Presented::Secret));
        assert_eq!(restarted.check(Some(old.trim())), Err(Refused::WrongSecret));
        let for_another = Grant { source: "fo-2".into(), ..grant }.sign(old.trim());
        assert!(matches!(
            credential.check(Some(&for_another)),
            Err(Refused::Grant(GrantError::OtherSource(_)))
        ));
    }

    #[test]
    fn each_source_is_logged_once() {
        let dir = tempfile::tempdir().expect("a directory");
        let credential = Credential::load("rec-1", dir.path(), None).expect("made");
        let source: IpAddr = [10, 0, 0, 9].into();
        assert!(credential.first_refusal_from(source));
        assert!(!credential.first_refusal_from(source));
        assert!(credential.first_refusal_from([10, 0, 0, 10].into()));
    }
}
