//! The steps `%spark start` reports, as the progress line words them.

use std::time::Duration;

/// Steps of `%spark start`, for the progress line.
#[derive(Debug, Clone, PartialEq)]
pub enum StartStep {
    Checking,
    Launching {
        master: String,
    },
    JvmUp {
        after: Duration,
    },
    Ready {
        version: String,
        after: Duration,
    },
    Executors {
        running: usize,
        wanted: u32,
        note: String,
    },
}

impl StartStep {
    pub fn describe(&self) -> String {
        match self {
            StartStep::Checking => "Checking Kubernetes permissions…".into(),
            StartStep::Launching { master } => format!("Starting the Spark server ({master})…"),
            StartStep::JvmUp { after } => format!(
                "Spark server up after {:.1} s; opening a session…",
                after.as_secs_f64()
            ),
            StartStep::Ready { version, after } => {
                format!(
                    "Spark {version} session ready after {:.1} s",
                    after.as_secs_f64()
                )
            }
            StartStep::Executors {
                running,
                wanted,
                note,
            } => {
                let mut line = format!("Executors: {running} of {wanted} running");
                if !note.is_empty() {
                    line.push_str(&format!(" — {note}"));
                }
                line
            }
        }
    }
}
