//! The input history that `history_request` reads.

use jupyter_protocol::{HistoryEntry, HistoryRequest};

/// Inputs executed with `store_history`, numbered like execution counts.
/// Only the most recent [`MAX_ENTRIES`] are kept: a kernel that runs for
/// weeks (or a loop of `execute_request`s) must not grow without bound.
#[derive(Debug, Default)]
pub(super) struct History {
    entries: std::collections::VecDeque<Entry>,
}

/// How many inputs history keeps (IPython keeps its whole session in
/// SQLite; frontends ask for the last 1,000 at most).
const MAX_ENTRIES: usize = 10_000;
/// The text/plain output kept per entry, so a huge result is not held twice.
const MAX_OUTPUT_BYTES: usize = 64 * 1024;

#[derive(Debug)]
struct Entry {
    line: usize,
    input: String,
    /// The text/plain form of the cell's result, for `output=True` requests.
    output: String,
}

/// Kernels report history for session 0, meaning "the current session".
const SESSION: usize = 0;

impl History {
    pub(super) fn record(&mut self, execution_count: usize, code: &str, output: Option<String>) {
        if self.entries.len() == MAX_ENTRIES {
            self.entries.pop_front();
        }
        let mut output = output.unwrap_or_default();
        if output.len() > MAX_OUTPUT_BYTES {
            let mut end = MAX_OUTPUT_BYTES;
            while !output.is_char_boundary(end) {
                end -= 1;
            }
            output.truncate(end);
            output.push('…');
        }
        self.entries.push_back(Entry {
            line: execution_count,
            input: code.to_string(),
            output,
        });
    }

    pub(super) fn answer(&self, request: &HistoryRequest) -> Vec<HistoryEntry> {
        let with_output = match request {
            HistoryRequest::Tail { output, .. }
            | HistoryRequest::Range { output, .. }
            | HistoryRequest::Search { output, .. } => *output,
        };
        let entry = |e: &Entry| {
            if with_output {
                HistoryEntry::InputOutput(SESSION, e.line, (e.input.clone(), e.output.clone()))
            } else {
                HistoryEntry::Input(SESSION, e.line, e.input.clone())
            }
        };
        match request {
            HistoryRequest::Tail { n, .. } => {
                let skip = self.entries.len().saturating_sub((*n).max(0) as usize);
                self.entries.iter().skip(skip).map(entry).collect()
            }
            HistoryRequest::Range { start, stop, .. } => {
                let (start, stop) = (*start as i64, *stop as i64);
                self.entries
                    .iter()
                    .filter(|e| {
                        let n = e.line as i64;
                        n >= start && (stop <= 0 || n < stop)
                    })
                    .map(entry)
                    .collect()
            }
            HistoryRequest::Search {
                pattern, unique, n, ..
            } => {
                let mut seen = std::collections::HashSet::new();
                let mut found: Vec<HistoryEntry> = self
                    .entries
                    .iter()
                    .rev()
                    .filter(|e| glob_match(pattern, &e.input))
                    .filter(|e| !*unique || seen.insert(e.input.clone()))
                    .take(if *n > 0 { *n as usize } else { usize::MAX })
                    .map(entry)
                    .collect();
                found.reverse();
                found
            }
        }
    }
}

/// IPython's history search uses glob patterns (`*` and `?`).
///
/// Iterative, with one backtrack point (the last `*`): linear space and
/// O(pattern × text) time in the worst case, so `*a*a*a*a*b` over a long
/// cell neither hangs nor overflows the stack as naive recursion does.
fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    // Where the last `*` was, and the text position it is matched up to.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some('?') => {
                pi += 1;
                ti += 1;
            }
            Some(c) if *c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                // Let the last `*` swallow one more character and retry.
                Some((star_p, star_t)) => {
                    star = Some((star_p, star_t + 1));
                    pi = star_p + 1;
                    ti = star_t + 1;
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history() -> History {
        let mut h = History::default();
        for (n, code) in [
            (1, "SELECT 1"),
            (2, "SELECT 2"),
            (3, "SHOW TABLES"),
            (4, "SELECT 1"),
        ] {
            h.record(n, code, Some(format!("out {n}")));
        }
        h
    }

    fn numbers(entries: Vec<HistoryEntry>) -> Vec<usize> {
        entries
            .into_iter()
            .map(|e| match e {
                HistoryEntry::Input(_, n, _) => n,
                HistoryEntry::InputOutput(_, n, _) => n,
            })
            .collect()
    }

    #[test]
    fn globs_match_like_ipython() {
        for (pattern, text, expected) in [
            ("SELECT*", "SELECT 1", true),
            ("*TABLES", "SHOW TABLES", true),
            ("S?OW*", "SHOW TABLES", true),
            ("*a*b", "xaxxb", true),
            ("*a*b", "xaxxbc", false),
            ("a", "ab", false),
            ("", "", true),
            ("*", "", true),
            ("?", "", false),
        ] {
            assert_eq!(glob_match(pattern, text), expected, "{pattern} ~ {text}");
        }
    }

    #[test]
    fn pathological_globs_finish() {
        // Exponential with naive backtracking; a deep recursion too.
        let text = "a".repeat(200_000);
        assert!(!glob_match("*a*a*a*a*a*a*a*a*b", &text));
        assert!(glob_match("*a*a*a*a*", &text));
    }

    #[test]
    fn history_is_bounded() {
        let mut h = History::default();
        for n in 1..=MAX_ENTRIES + 5 {
            h.record(
                n,
                "SELECT 1",
                Some("x".repeat(if n == 7 { 1 << 20 } else { 1 })),
            );
        }
        assert_eq!(h.entries.len(), MAX_ENTRIES);
        assert_eq!(h.entries.front().unwrap().line, 6);
        assert!(
            h.entries
                .iter()
                .all(|e| e.output.len() <= MAX_OUTPUT_BYTES + 4)
        );
    }

    #[test]
    fn tail_range_and_search() {
        let h = history();
        assert_eq!(
            numbers(h.answer(&HistoryRequest::Tail {
                n: 2,
                output: false,
                raw: true
            })),
            vec![3, 4]
        );
        let range = HistoryRequest::Range {
            session: None,
            start: 2,
            stop: 4,
            output: false,
            raw: true,
        };
        assert_eq!(numbers(h.answer(&range)), vec![2, 3]);
        let search = HistoryRequest::Search {
            pattern: "SELECT*".into(),
            unique: true,
            output: false,
            raw: true,
            n: 10,
        };
        assert_eq!(numbers(h.answer(&search)), vec![2, 4]);
        match &h.answer(&HistoryRequest::Tail {
            n: 1,
            output: true,
            raw: true,
        })[0]
        {
            HistoryEntry::InputOutput(_, 4, (input, output)) => {
                assert_eq!((input.as_str(), output.as_str()), ("SELECT 1", "out 4"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
