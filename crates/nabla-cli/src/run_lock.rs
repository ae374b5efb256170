//! One writer per run folder: `nabla train` holds an advisory lock on `RUN/.lock` for its
//! whole life, so a second run into the same folder stops with the first one's PID instead of
//! interleaving logs and overwriting the model. The operating system releases the lock when
//! the process exits, crashes or is killed, so a dead run never leaves the folder locked.
//!
//! While the lock is held no other nabla process writes into the folder, so every temporary
//! file found there (`.NAME.tmpPID` of atomic writes, `curves.tmp.png`) was left by a run
//! that was killed mid-write: they are removed when the lock is taken.

use anyhow::{bail, Context, Result};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// The name of the lock file inside a run folder.
pub const LOCK_FILE: &str = ".lock";

/// A held run-folder lock; dropping it (or the process ending) releases it.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
    /// Stale temporaries removed when the lock was taken.
    pub removed: Vec<PathBuf>,
}

/// Takes `dir`'s lock (creating `dir` if needed), writing this process's PID into it, and
/// removes the stale temporaries of killed runs. Fails, naming the holder's PID, when another
/// process holds it.
pub fn acquire(dir: &Path) -> Result<RunLock> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(LOCK_FILE);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = match holder.trim() {
                "" => "another nabla process".to_string(),
                pid => format!("another nabla process (PID {pid})"),
            };
            bail!(
                "{} is in use by {holder}, which is writing a run there; wait for it to end, \
                 or train into another folder with --out NAME",
                dir.display()
            );
        }
        Err(TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("locking {}", path.display()));
        }
    }
    file.set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| writeln!(file, "{}", std::process::id()))
        .with_context(|| format!("writing {}", path.display()))?;
    let removed = remove_stale_temporaries(dir)?;
    Ok(RunLock {
        _file: file,
        removed,
    })
}

/// Whether `name` is a temporary file of an interrupted write: `.NAME.tmpPID` (atomic writes)
/// or `NAME.tmp.png` (the curves plot).
fn is_temporary(name: &str) -> bool {
    if name.ends_with(".tmp.png") {
        return true;
    }
    match name.strip_prefix('.').and_then(|n| n.rsplit_once(".tmp")) {
        Some((stem, pid)) => {
            !stem.is_empty() && !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

fn remove_stale_temporaries(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    let entries = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if is_temporary(name) && entry.file_type().is_ok_and(|t| t.is_file()) {
            let path = entry.path();
            std::fs::remove_file(&path)
                .with_context(|| format!("removing the stale {}", path.display()))?;
            removed.push(path);
        }
    }
    removed.sort();
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("nabla-lock-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn a_second_lock_on_the_same_folder_names_the_holder() {
        let dir = scratch("twice");
        let first = acquire(&dir).unwrap();
        let err = acquire(&dir).unwrap_err().to_string();
        assert!(
            err.contains(&format!("PID {}", std::process::id())) && err.contains("--out"),
            "{err}"
        );
        drop(first);
        acquire(&dir).expect("free again once the first lock is dropped");
    }

    #[test]
    fn temporaries_of_killed_runs_are_removed_and_nothing_else() {
        let dir = scratch("stale");
        std::fs::create_dir_all(&dir).unwrap();
        let stale = [
            ".checkpoint.safetensors.tmp4242",
            ".metrics.csv.tmp17",
            "curves.tmp.png",
        ];
        let kept = [
            "checkpoint.safetensors",
            "metrics.csv",
            "curves.png",
            ".tmp12",
            ".notes.tmpfile",
        ];
        for f in stale.iter().chain(&kept) {
            std::fs::write(dir.join(f), b"x").unwrap();
        }
        let lock = acquire(&dir).unwrap();
        let mut want: Vec<PathBuf> = stale.iter().map(|f| dir.join(f)).collect();
        want.sort();
        assert_eq!(lock.removed, want);
        for f in kept {
            assert!(dir.join(f).exists(), "{f} was removed");
        }
    }
}
