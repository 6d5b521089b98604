//! One lab per data folder.
//!
//! Two labs on one folder would run two SeaweedFS servers on the same
//! volume files. The lab takes an exclusive `flock` on `DATA_DIR/lab.lock`
//! and records who it started there; its children inherit the lock's file
//! descriptor, so the folder stays locked while any of them lives — even
//! when the lab itself was killed without stopping them. A second lab is
//! then told, in one sentence, which processes hold the folder and how to
//! stop them, instead of failing a minute later on a port.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::path::Path;

use anyhow::{Context as _, bail};

pub struct LabLock {
    file: File,
}

impl LabLock {
    /// Locks `data_dir` for this lab, or says who holds it.
    pub fn acquire(data_dir: &Path) -> anyhow::Result<LabLock> {
        let path = data_dir.join("lab.lock");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("could not open {}", path.display()))?;
        // SAFETY: flock(2) on a descriptor this function owns.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let holders = std::fs::read_to_string(&path).unwrap_or_default();
            bail!(held_by(data_dir, &holders));
        }
        file.set_len(0)?;
        file.seek(SeekFrom::Start(0))?;
        writeln!(file, "quarry lab\t{}", std::process::id())?;
        // Let the children inherit the lock (Rust opens files close-on-exec).
        // SAFETY: fcntl(2) on a descriptor this function owns.
        unsafe {
            libc::fcntl(file.as_raw_fd(), libc::F_SETFD, 0);
        }
        Ok(LabLock { file })
    }

    /// Records a child (`what`, e.g. "JupyterLab on port 8888") for the
    /// message a second lab would show.
    pub fn record(&mut self, what: &str, pid: Option<u32>) {
        if let Some(pid) = pid {
            let _ = writeln!(self.file, "{what}\t{pid}");
        }
    }
}

/// "An earlier `quarry lab` still holds …": the live processes named in the
/// lock file, and how to stop them.
fn held_by(data_dir: &Path, holders: &str) -> String {
    let live: Vec<(&str, u32)> = holders
        .lines()
        .filter_map(|line| {
            let (what, pid) = line.split_once('\t')?;
            Some((what, pid.trim().parse().ok()?))
        })
        .filter(|&(_, pid)| is_alive(pid))
        .collect();
    let dir = data_dir.display();
    if live.is_empty() {
        return format!(
            "an earlier `quarry lab` still holds {dir} (its lock file names no live process): stop it, or pass --data-dir DIR to run another lab beside it"
        );
    }
    let named: Vec<String> = live
        .iter()
        .map(|(what, pid)| format!("{what}, pid {pid}"))
        .collect();
    let pids: Vec<String> = live.iter().map(|(_, pid)| pid.to_string()).collect();
    let lab_gone = !live.iter().any(|(what, _)| *what == "quarry lab");
    let how = if lab_gone {
        format!(
            "the lab itself is gone, so stop what it left with `kill {}`",
            pids.join(" ")
        )
    } else {
        format!("stop it with Ctrl-C in its terminal or `kill {}`", pids[0])
    };
    format!(
        "an earlier `quarry lab` still holds {dir} ({}): {how}, or pass --data-dir DIR to run another lab beside it",
        named.join("; ")
    )
}

/// Whether `pid` is a running process: a zombie (dead, not yet reaped —
/// containers often have no init to reap orphans) holds nothing.
fn is_alive(pid: u32) -> bool {
    // SAFETY: kill(2) with signal 0 only checks that the process exists.
    if unsafe { libc::kill(pid as libc::pid_t, 0) } != 0 {
        return false;
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // "pid (name) S …": the state follows the last ')'.
    let state = stat
        .rsplit(')')
        .next()
        .and_then(|rest| rest.split_whitespace().next());
    state != Some("Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lab_is_told_who_holds_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let mut first = LabLock::acquire(dir.path()).expect("the first lab locks");
        first.record("SeaweedFS", Some(std::process::id()));
        first.record("JupyterLab on port 8888", Some(u32::MAX / 2));
        let refused = LabLock::acquire(dir.path())
            .err()
            .expect("the second is refused");
        let me = std::process::id();
        assert_eq!(
            refused.to_string(),
            format!(
                "an earlier `quarry lab` still holds {} (quarry lab, pid {me}; SeaweedFS, pid {me}): stop it with Ctrl-C in its terminal or `kill {me}`, or pass --data-dir DIR to run another lab beside it",
                dir.path().display()
            ),
            "a dead pid is not named"
        );
        drop(first);
        LabLock::acquire(dir.path()).expect("free again once the first is gone");
    }
}
