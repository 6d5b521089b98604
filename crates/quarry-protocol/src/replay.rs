//! Refusing replayed messages.
//!
//! A signature proves who wrote a message, not that it is new: anyone who
//! saw one signed `execute_request` on the wire could send it again and
//! have the cell run twice. jupyter_client's `Session` keeps the digests it
//! has seen (`digest_history`, 2¹⁶ of them) and refuses repeats; so does
//! this kernel, across all its sockets.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

/// How many signatures are remembered (jupyter_client's `digest_history_size`).
pub const SIGNATURE_HISTORY: usize = 1 << 16;

/// The signatures of messages accepted so far, oldest forgotten first.
#[derive(Debug, Default)]
pub struct SignatureHistory {
    seen: Mutex<Seen>,
}

#[derive(Debug, Default)]
struct Seen {
    set: HashSet<Vec<u8>>,
    order: VecDeque<Vec<u8>>,
}

impl SignatureHistory {
    /// Records `signature`; `false` when it was seen before (a replay).
    pub fn first_time(&self, signature: &[u8]) -> bool {
        let mut seen = self.seen.lock().expect("signature history");
        if seen.set.contains(signature) {
            return false;
        }
        if seen.order.len() == SIGNATURE_HISTORY
            && let Some(oldest) = seen.order.pop_front()
        {
            seen.set.remove(&oldest);
        }
        seen.set.insert(signature.to_vec());
        seen.order.push_back(signature.to_vec());
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_are_refused_and_the_history_is_bounded() {
        let history = SignatureHistory::default();
        assert!(history.first_time(b"a"));
        assert!(!history.first_time(b"a"));
        for i in 0..SIGNATURE_HISTORY {
            assert!(history.first_time(format!("s{i}").as_bytes()));
        }
        // `a` was the oldest and has been forgotten; memory stays bounded.
        assert_eq!(history.seen.lock().unwrap().order.len(), SIGNATURE_HISTORY);
        assert!(history.first_time(b"a"));
    }
}
