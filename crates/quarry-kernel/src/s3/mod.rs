//! `%s3`: browse and manage S3 from a cell, with the kernel's credentials.
//!
//! `ls`, `head` and `whoami` live in [`browse`]; `cp` and `rm` in
//! [`copy`]. The S3 work itself is `quarry-s3`'s (and `quarry-sql`'s
//! preview); this module parses arguments and formats what comes back.
//! Every failure keeps the wording and kind `quarry-s3` gave it.

mod browse;
mod copy;

use quarry_sql::{SqlError, SqlSession};

use super::QuarryHandler;
use crate::protocol::{ExecuteError, Outputs};

const USAGE: &str = "Usage: %s3 ls [s3://bucket[/prefix]] [--limit N | --all] · %s3 head s3://… [--rows N] · \
                     %s3 cp SRC DST · %s3 rm [--recursive] s3://… · %s3 whoami";

pub(super) async fn run(
    handler: &QuarryHandler,
    args: &[String],
    outputs: &Outputs,
) -> Result<(), ExecuteError> {
    let Some((command, rest)) = args.split_first() else {
        return Err(usage_error("%s3 needs a command."));
    };
    let s3 = S3 {
        session: handler.session.clone(),
        outputs: outputs.clone(),
        hub_user: handler.platform.hub_user.clone(),
    };
    let (owned_command, rest) = (command.clone(), rest.to_vec());
    // On the query runtime, like SQL: transfers never hold up the protocol
    // thread that answers interrupts.
    let running = handler.start_cell();
    let mut task = handler
        .executor
        .spawn(async move { s3.dispatch(&owned_command, &rest).await });
    tokio::select! {
        joined = &mut task => joined.unwrap_or_else(|_| Err(ExecuteError::new(
            "InternalError",
            format!("%s3 {command} stopped unexpectedly inside Quarry (a bug worth reporting)."),
        ))),
        // The stop button cancels S3 work like a query: aborting drops the
        // future, which stops the transfer (an unfinished multipart upload
        // is aborted by `quarry_s3::upload_file`, so no orphan parts stay).
        () = running.cancelled() => {
            task.abort();
            Err(ExecuteError::new(
                "Interrupted",
                format!("%s3 {command} was interrupted; nothing after the interruption was changed."),
            ))
        }
    }
}

/// One `%s3` command's context: the kernel's SQL session (whose S3 stores
/// carry the credentials) and the cell's outputs.
struct S3 {
    session: SqlSession,
    outputs: Outputs,
    /// For `%s3 whoami`.
    hub_user: Option<String>,
}

impl S3 {
    async fn dispatch(&self, command: &str, rest: &[String]) -> Result<(), ExecuteError> {
        match command {
            "ls" => self.ls(rest).await,
            "head" => self.head(rest).await,
            "whoami" => self.whoami().await,
            // Writes change what folders hold: SQL lists them again.
            "cp" => {
                let done = self.cp(rest).await;
                self.session.forget_listings();
                done
            }
            "rm" => {
                let done = self.rm(rest).await;
                self.session.forget_listings();
                done
            }
            other => Err(usage_error(&format!("'{other}' is not an %s3 command."))),
        }
    }

    /// The kernel's S3 stores: the same credentials SQL cells use.
    fn stores(&self) -> &quarry_s3::S3Stores {
        self.session.s3()
    }
}

/// An S3 failure in the shared wording, with its kind's `ename`.
fn from_failure(failure: quarry_s3::S3Failure) -> ExecuteError {
    from_sql(SqlError::from_failure(failure))
}

fn from_sql(err: SqlError) -> ExecuteError {
    ExecuteError::new(err.kind.ename(), err.message)
}

fn usage_error(problem: &str) -> ExecuteError {
    ExecuteError::new("UsageError", format!("{problem} {USAGE}"))
}

/// Splits magic arguments like a shell: whitespace separates, quotes group.
pub(super) fn split_args(line: &str) -> Result<Vec<String>, ExecuteError> {
    let mut args = Vec::new();
    let mut current = String::new();
    let mut quote = None;
    let mut in_word = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => current.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    args.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            (None, c) => {
                current.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err(usage_error("A quote in the arguments is not closed."));
    }
    if in_word {
        args.push(current);
    }
    Ok(args)
}

/// Takes `--name VALUE` out of `args`, parsed as a positive number.
fn take_number(args: &mut Vec<String>, name: &str) -> Result<Option<usize>, ExecuteError> {
    let Some(i) = args.iter().position(|a| a == name) else {
        return Ok(None);
    };
    let value = args
        .get(i + 1)
        .cloned()
        .ok_or_else(|| usage_error(&format!("{name} needs a number.")))?;
    let number = value
        .parse::<usize>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| {
            usage_error(&format!(
                "{name} needs a positive whole number, not '{value}'."
            ))
        })?;
    args.drain(i..=i + 1);
    Ok(Some(number))
}

/// Takes a boolean `--flag` out of `args`.
fn take_flag(args: &mut Vec<String>, names: &[&str]) -> bool {
    let before = args.len();
    args.retain(|a| !names.contains(&a.as_str()));
    args.len() != before
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_a_shell() {
        assert_eq!(
            split_args("cp 's3://b/with space.csv' ./local\\ x \"a b\"").unwrap(),
            vec!["cp", "s3://b/with space.csv", "./local\\", "x", "a b"]
        );
        assert!(split_args("ls 's3://b").is_err());
    }

    #[test]
    fn takes_options() {
        let mut args: Vec<String> = ["s3://b", "--limit", "20", "--all"]
            .map(String::from)
            .to_vec();
        assert_eq!(take_number(&mut args, "--limit").unwrap(), Some(20));
        assert!(take_flag(&mut args, &["--all"]));
        assert_eq!(args, vec!["s3://b".to_string()]);
        let mut bad: Vec<String> = ["--limit", "x"].map(String::from).to_vec();
        assert!(take_number(&mut bad, "--limit").is_err());
    }
}
