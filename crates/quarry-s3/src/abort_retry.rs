//! How long and how often an abort S3 did not answer is tried again.
//!
//! An unfinished multipart upload keeps its parts (and their bytes on the
//! user's quota) until it is aborted, and S3 keeps no list a user looks
//! at. When S3 is away at the moment of an abort — the very moment uploads
//! tend to fail — the abort is retried in the background: after 2 s, then
//! doubling to once a minute, for half an hour. Past that, S3's lifecycle
//! rules (and, for journaled uploads, the next process's reaper) remain.

use std::time::Duration;

/// One attempt may take this long.
pub(crate) const ATTEMPT: Duration = Duration::from_secs(10);
const FIRST_PAUSE: Duration = Duration::from_secs(2);
const LONGEST_PAUSE: Duration = Duration::from_secs(60);
const GIVE_UP_AFTER: Duration = Duration::from_secs(30 * 60);

/// The pauses between attempts.
#[derive(Debug)]
pub(crate) struct AbortBackoff {
    started: tokio::time::Instant,
    pause: Duration,
}

impl AbortBackoff {
    pub(crate) fn new() -> Self {
        AbortBackoff {
            started: tokio::time::Instant::now(),
            pause: FIRST_PAUSE,
        }
    }

    /// Waits before the next attempt; false once it is time to give up.
    pub(crate) async fn wait(&mut self) -> bool {
        match self.next_pause(self.started.elapsed()) {
            Some(pause) => {
                tokio::time::sleep(pause).await;
                true
            }
            None => false,
        }
    }

    /// The pause before the next attempt, `elapsed` after the first; none
    /// once it is time to give up. (Apart from the clock, so the schedule
    /// is tested without waiting half an hour.)
    fn next_pause(&mut self, elapsed: Duration) -> Option<Duration> {
        if elapsed >= GIVE_UP_AFTER {
            return None;
        }
        let pause = self.pause;
        self.pause = (self.pause * 2).min(LONGEST_PAUSE);
        Some(pause)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_to_a_minute_and_end_after_half_an_hour() {
        let mut backoff = AbortBackoff::new();
        let mut elapsed = Duration::ZERO;
        let mut pauses = Vec::new();
        while let Some(pause) = backoff.next_pause(elapsed) {
            pauses.push(pause.as_secs());
            elapsed += pause;
        }
        assert_eq!(pauses[..7], [2, 4, 8, 16, 32, 60, 60]);
        let total: u64 = pauses.iter().sum();
        assert!((1800..1900).contains(&total), "{total} s in all");
    }
}
