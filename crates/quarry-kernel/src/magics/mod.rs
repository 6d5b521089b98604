//! Line magics, one table ([`table::MAGICS`]): each magic's name, usage,
//! help, examples and the function it runs. Dispatch, `%lsmagic`, `%help`'s
//! list, completion of magic names, inspection and the docs' magic
//! reference (`docs/src/reference/magics.md`) all read that table, so they cannot differ.

mod help;
mod settings;
mod table;

use std::future::Future;
use std::pin::Pin;

use quarry_sql::notebook::Completion;

use crate::protocol::{ExecuteError, Outputs};
use crate::{QuarryHandler, display};
use table::MAGICS;

/// A magic's name, one-line synopsis, longer description, examples and
/// what it runs.
pub(super) struct Magic {
    name: &'static str,
    usage: &'static str,
    about: &'static str,
    /// Cells to try, in order. Every magic's run as written, in the
    /// table's order, on `quarry lab`'s demo data after `%help`'s examples
    /// (`tests/test_help_examples.py`).
    examples: &'static [&'static str],
    /// Runs the magic's line.
    run: RunMagic,
}

/// A running magic.
type MagicFuture<'a> = Pin<Box<dyn Future<Output = Result<(), ExecuteError>> + Send + 'a>>;

/// What a magic runs, given its line.
type RunMagic = for<'a> fn(&'a QuarryHandler, &'a MagicLine<'a>, &'a Outputs) -> MagicFuture<'a>;

/// A magic that finishes at once.
fn now<'a>(result: Result<(), ExecuteError>) -> MagicFuture<'a> {
    Box::pin(std::future::ready(result))
}

/// Markdown help output.
fn show_markdown(markdown: &str, outputs: &Outputs) -> Result<(), ExecuteError> {
    outputs.display(display::help_markdown(markdown), None);
    Ok(())
}

/// One magic line: `%name args…`.
pub(super) struct MagicLine<'a> {
    name: &'a str,
    line: &'a str,
}

impl<'a> MagicLine<'a> {
    fn parse(line: &'a str) -> Self {
        let name = line.split_whitespace().next().unwrap_or_default();
        MagicLine { name, line }
    }

    /// What follows the name, untrimmed at its end (`%s3` quotes its own).
    fn after_name(&self) -> &'a str {
        self.line
            .trim_start()
            .strip_prefix(self.name)
            .unwrap_or_default()
    }

    /// What follows the name, trimmed.
    fn rest(&self) -> &'a str {
        self.after_name().trim()
    }

    /// The words after the name.
    fn args(&self) -> Vec<&'a str> {
        self.after_name().split_whitespace().collect()
    }
}

/// Runs one magic line.
pub(super) async fn run(
    handler: &QuarryHandler,
    line: &str,
    outputs: &Outputs,
) -> Result<(), ExecuteError> {
    let line = MagicLine::parse(line);
    match MAGICS.iter().find(|magic| magic.name == line.name) {
        Some(magic) => (magic.run)(handler, &line, outputs).await,
        None => Err(ExecuteError::new(
            "UnknownMagic",
            format!(
                "{} is not a Quarry magic: %lsmagic lists the ones that exist.",
                line.name
            ),
        )),
    }
}

/// `%lsmagic`: each magic's synopsis, what it does, and cells to try.
fn magic_list() -> String {
    let mut text = String::from(
        "Available magics. Each example runs as written on `quarry lab`'s demo data, in this order, after `%help`'s examples (which create the `readings` table):\n",
    );
    for magic in MAGICS {
        text.push_str(&format!("\n* `{}` — {}\n\n", magic.usage, magic.about));
        text.push_str("  ```sql\n");
        for (i, example) in magic.examples.iter().enumerate() {
            if i > 0 {
                text.push('\n');
            }
            for line in example.lines() {
                text.push_str(&format!("  {line}\n"));
            }
        }
        text.push_str("  ```\n");
    }
    text
}

/// The magic reference in the documentation (`docs/src/reference/magics.md`): the same
/// table `%lsmagic` shows, so the two cannot differ (the test below writes
/// and compares it).
#[cfg(test)]
fn reference_markdown() -> String {
    let mut text = String::from(
        "# Magics\n\n\
         <!-- Generated from the kernel's magic table (crates/quarry-kernel/src/magics/mod.rs) by \
         `QUARRY_BLESS=1 cargo test --workspace magic_reference`; a test fails when they differ. -->\n\n\
         A Quarry cell is SQL unless its first line is a magic. `%lsmagic` in a notebook shows this list. \
         Each example runs as written on `quarry lab`'s demo data, in this order, after `%help`'s \
         examples (which create the `readings` table); `tests/test_help_examples.py` runs them.\n",
    );
    for magic in MAGICS {
        text.push_str(&format!(
            "\n## `{}`\n\n```text\n{}\n```\n\n{}\n\n```sql\n{}\n```\n",
            magic.name,
            magic.usage,
            magic.about,
            magic.examples.join("\n\n")
        ));
    }
    text
}

/// Completes magic names when the cursor is in the first word of a `%` line.
pub(super) fn complete(code: &str, cursor_pos: usize) -> Option<Completion> {
    let before: String = code.chars().take(cursor_pos).collect();
    let line = before.rsplit('\n').next().unwrap_or_default();
    let word = line.trim_start();
    if !word.starts_with('%') || word.contains(char::is_whitespace) {
        return None;
    }
    let matches: Vec<String> = MAGICS
        .iter()
        .map(|m| m.name.to_string())
        .filter(|name| name.starts_with(word))
        .collect();
    Some(Completion {
        kinds: vec!["magic"; matches.len()],
        matches,
        cursor_start: cursor_pos - word.chars().count(),
        cursor_end: cursor_pos,
    })
}

/// Help for the magic under the cursor.
pub(super) fn inspect(code: &str, cursor_pos: usize) -> Option<String> {
    let chars: Vec<char> = code.chars().collect();
    let at = cursor_pos.min(chars.len());
    let start = chars[..at]
        .iter()
        .rposition(|c| c.is_whitespace())
        .map_or(0, |i| i + 1);
    let end = chars[at..]
        .iter()
        .position(|c| c.is_whitespace())
        .map_or(chars.len(), |i| at + i);
    let word: String = chars[start..end].iter().collect();
    let magic = MAGICS.iter().find(|m| m.name == word)?;
    Some(format!("{}\n\n{}", magic.usage, magic.about))
}

/// `%help`. Every fenced block is a set of cells (separated by blank
/// lines) that runs as written against `quarry lab`'s demo data
/// (`tests/test_help_examples.py` runs them in order).
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completes_magic_names() {
        let c = complete("%ls", 3).unwrap();
        assert_eq!(c.matches, vec!["%lsmagic".to_string()]);
        assert_eq!((c.cursor_start, c.cursor_end), (0, 3));
        assert!(complete("SELECT 1", 8).is_none());
        assert!(complete("%config max", 11).is_none());
    }

    #[test]
    fn every_magic_has_an_example_that_uses_it() {
        for magic in MAGICS {
            assert!(
                magic.examples.iter().any(|e| e.starts_with(magic.name)),
                "{} has no example of its own",
                magic.name
            );
        }
        let list = magic_list();
        assert_eq!(list.matches("  ```sql\n").count(), MAGICS.len());
        assert!(list.contains("  %%spark -i readings\n  SELECT site"));
    }

    /// `docs/src/reference/magics.md` is the table, byte for byte.
    #[test]
    fn the_docs_magic_reference_is_the_table() {
        quarry_testkit::generated::assert_generated(
            "docs/src/reference/magics.md",
            &reference_markdown(),
            "cargo test --workspace magic_reference",
        );
    }

    #[test]
    fn help_lists_every_magic_of_the_table_once() {
        let help = help::help_markdown();
        for magic in MAGICS {
            let entry = format!("* `{}` — ", magic.usage);
            assert_eq!(help.matches(&entry).count(), 1, "{} in %help", magic.name);
        }
    }

    #[test]
    fn inspects_magics() {
        assert!(
            inspect("%config max_rows 3", 3)
                .unwrap()
                .starts_with("%config [max_rows N | s3_cache clear]")
        );
        assert!(inspect("SELECT", 3).is_none());
    }
}
