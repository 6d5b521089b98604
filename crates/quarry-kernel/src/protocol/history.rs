//! The input history that `history_request` reads.

use jupyter_protocol::{HistoryEntry, HistoryRequest};

/// Inputs executed with `store_history`, numbered like execution counts.
#[derive(Debug, Default)]
pub(super) struct History {
    entries: Vec<Entry>,
}

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
        self.entries.push(Entry {
            line: execution_count,
            input: code.to_string(),
            output: output.unwrap_or_default(),
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
                self.entries[skip..].iter().map(entry).collect()
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
fn glob_match(pattern: &str, text: &str) -> bool {
    fn matches(p: &[char], t: &[char]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some('*'), _) => matches(&p[1..], t) || (!t.is_empty() && matches(p, &t[1..])),
            (Some('?'), Some(_)) => matches(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => matches(&p[1..], &t[1..]),
            _ => false,
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    matches(&p, &t)
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
