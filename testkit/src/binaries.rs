//! Where the real binaries are: in the profile directory of the running test or bench, so a
//! test (`target/debug/deps/…`) drives the debug `standby` and `standby-recorder` and a
//! benchmark (`target/release/deps/…`) the release ones, with no flag to forget.
//! `STANDBY_BIN_DIR` points elsewhere.

use std::path::{Path, PathBuf};

/// One of the two programs the project builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binary {
    /// `standby`, the management server (package `server`).
    Manager,
    /// `standby-recorder`, the recorder agent (package `recorder`).
    Agent,
}

impl Binary {
    pub fn file_name(self) -> &'static str {
        match self {
            Binary::Manager => "standby",
            Binary::Agent => "standby-recorder",
        }
    }

    fn package(self) -> &'static str {
        match self {
            Binary::Manager => "server",
            Binary::Agent => "recorder",
        }
    }

    /// The binary of this build, or a sentence saying where it was looked for and how to
    /// build it.
    pub fn find(self) -> Result<PathBuf, String> {
        let dir = directory()?;
        let path = dir.join(self.file_name());
        if path.is_file() {
            return Ok(path);
        }
        let release = if dir.ends_with("release") { "--release " } else { "" };
        Err(format!(
            "{} is missing: build it first, in the same target directory, with \
             `cargo build {release}-p {}` (or point STANDBY_BIN_DIR at the directory holding it)",
            path.display(),
            self.package()
        ))
    }

    /// As [`Binary::find`], for callers that cannot go on without it.
    pub fn path(self) -> PathBuf {
        self.find().unwrap_or_else(|missing| panic!("{missing}"))
    }
}

/// `STANDBY_BIN_DIR`, else the directory cargo puts this build's binaries in: a running test or
/// bench is `target/<profile>/deps/<name>-<hash>`, the binaries `target/<profile>/<name>`, and a
/// binary of this crate (`large-site`) sits beside them.
pub fn directory() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("STANDBY_BIN_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let exe = std::env::current_exe()
        .map_err(|error| format!("cannot tell where this executable is: {error}"))?;
    let dir = exe.parent().ok_or_else(|| format!("{} has no directory", exe.display()))?;
    if dir.ends_with("deps") {
        return dir.parent().map(Path::to_owned).ok_or_else(|| {
            format!(
                "{} is not in a cargo target directory; set STANDBY_BIN_DIR to the directory \
                 holding standby and standby-recorder",
                exe.display()
            )
        });
    }
    Ok(dir.to_owned())
}
