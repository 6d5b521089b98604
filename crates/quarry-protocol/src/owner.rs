//! The kernel's life follows its owner's.
//!
//! Jupyter clients that start a kernel (Jupyter Server, `jupyter console`,
//! nbclient) set `JPY_PARENT_PID` to their own process id. When that process
//! dies without a `shutdown_request` — Jupyter Server OOM-killed, a terminal
//! closed hard — nobody will ever ask the kernel to stop, and a kernel left
//! running keeps its memory, its cached S3 bytes and its Spark JVM. ipykernel
//! watches its parent for this reason (its `ParentPollerUnix`); so does
//! Quarry.
//!
//! Watching is polling: once a second, is the parent still our parent? A
//! dead parent's children are re-parented (to init or a subreaper), so
//! `getppid` changes at once and, unlike probing the pid, cannot be fooled
//! by a new process that reused the number. When the kernel was started
//! through a wrapper (the parent named is not our direct parent), the
//! named process is probed through `/proc` instead.

use std::path::PathBuf;
use std::time::Duration;

/// How often the owner is checked. ipykernel checks once a second too.
const POLL_EVERY: Duration = Duration::from_secs(1);

/// The process a kernel should not outlive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pid: u32,
    /// Whether `pid` was our direct parent when the kernel started.
    direct: bool,
}

impl Owner {
    /// The owner named by `JPY_PARENT_PID` (read by the binary), if it
    /// names a process. A kernel started by hand (no variable, or `0`) has
    /// no owner to follow.
    pub fn from_parent_pid(jpy_parent_pid: Option<&str>) -> Option<Owner> {
        Owner::named(jpy_parent_pid?, std::os::unix::process::parent_id())
    }

    fn named(value: &str, parent: u32) -> Option<Owner> {
        let pid: u32 = value.trim().parse().ok().filter(|pid| *pid > 1)?;
        Some(Owner {
            pid,
            direct: pid == parent,
        })
    }

    /// The process id being watched.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Whether the owner is still running.
    fn alive(&self) -> bool {
        if self.direct {
            return std::os::unix::process::parent_id() == self.pid;
        }
        // A zombie has exited even though its /proc entry stays.
        let stat = PathBuf::from(format!("/proc/{}/stat", self.pid));
        match std::fs::read_to_string(stat) {
            Ok(stat) => process_state(&stat) != Some('Z'),
            Err(_) => false,
        }
    }

    /// Resolves once the owner has died.
    pub async fn gone(self) {
        let mut tick = tokio::time::interval(POLL_EVERY);
        loop {
            tick.tick().await;
            if !self.alive() {
                return;
            }
        }
    }
}

/// The state letter of a `/proc/PID/stat` line (after the command, which
/// may itself contain spaces and parentheses).
fn process_state(stat: &str) -> Option<char> {
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .next()?
        .chars()
        .next()
}

#[cfg(test)]
mod tests {
    use super::{Owner, process_state};

    #[test]
    fn only_a_real_pid_is_an_owner() {
        assert_eq!(Owner::named("", 7), None);
        assert_eq!(Owner::named("0", 7), None);
        assert_eq!(Owner::named("1", 7), None);
        assert_eq!(Owner::named("abc", 7), None);
        assert_eq!(
            Owner::named(" 7\n", 7),
            Some(Owner {
                pid: 7,
                direct: true
            })
        );
        assert_eq!(
            Owner::named("9", 7),
            Some(Owner {
                pid: 9,
                direct: false
            })
        );
    }

    #[test]
    fn our_own_parent_is_alive_and_a_missing_pid_is_not() {
        let parent = std::os::unix::process::parent_id();
        assert!(Owner::named(&parent.to_string(), parent).unwrap().alive());
        // Probed through /proc: this process is alive, pid u32::MAX is not.
        let me = std::process::id();
        assert!(Owner::named(&me.to_string(), parent).unwrap().alive());
        let missing = Owner {
            pid: u32::MAX,
            direct: false,
        };
        assert!(!missing.alive());
    }

    #[test]
    fn the_state_follows_the_last_parenthesis() {
        assert_eq!(process_state("42 (a) b) (c) Z 1 2"), Some('Z'));
        assert_eq!(process_state("42 (quarry) S 1 2"), Some('S'));
        assert_eq!(process_state("garbage"), None);
    }
}
