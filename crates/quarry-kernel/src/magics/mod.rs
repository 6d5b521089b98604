//! Line magics: `%lsmagic`, `%help`, `%config`, `%echo`, and the `%s3` and
//! `%spark` families.

use quarry_s3::CacheStats;
use quarry_sql::{Completion, human_bytes};
use quarry_text::markup::{Cell, HtmlTable};

use super::{QuarryHandler, display};
use crate::protocol::{ExecuteError, Outputs};

/// A magic's name, one-line synopsis, longer description and examples.
struct Magic {
    name: &'static str,
    usage: &'static str,
    about: &'static str,
    /// Cells to try, in order. Every magic's run as written, in the
    /// table's order, on `quarry lab`'s demo data after `%help`'s examples
    /// (`tests/test_help_examples.py`).
    examples: &'static [&'static str],
}

const MAGICS: &[Magic] = &[
    Magic {
        name: "%lsmagic",
        usage: "%lsmagic",
        about: "List the available magics.",
        examples: &["%lsmagic"],
    },
    Magic {
        name: "%help",
        usage: "%help",
        about: "Show how to use Quarry: SQL cells, S3 URLs and magics.",
        examples: &["%help"],
    },
    Magic {
        name: "%config",
        usage: "%config [max_rows N | s3_cache clear]",
        about: "Show the kernel settings, or change one. max_rows caps the rows displayed per result (the true row count is always stated). s3_cache clear drops the S3 bytes and decoded CSV/JSON kept in memory between queries (QUARRY_S3_CACHE sets its size; a rewritten object is never answered from it). Engine settings use SQL: SET datafusion.execution.target_partitions = 4.",
        examples: &["%config", "%config max_rows 50"],
    },
    Magic {
        name: "%catalog",
        usage: "%catalog",
        about: "List the tables and views kept in your catalog (CREATE EXTERNAL TABLE and CREATE VIEW keep them for every kernel of yours, after restarts too; DROP removes them everywhere), with where they live, and the tables in this kernel only.",
        examples: &["%catalog"],
    },
    Magic {
        name: "%echo",
        usage: "%echo TEXT",
        about: "Print TEXT to the cell's output.",
        examples: &["%echo Hello from Quarry"],
    },
    Magic {
        name: "%chart",
        usage: "%chart [bar|line|area|point|heatmap|hist|pie] [x=COL] [y=AGG(COL)] [color=COL] [facet=COL] [title=\"…\"]",
        about: "Chart the query below it (or, alone, the last result; above %%spark, a Spark query). Bins, time units and top-N with \"other\" are computed by the engine over every row, never a sample; the subtitle says what the chart summarises. With no arguments the chart is chosen from the columns. AGG is count, sum, avg, min or max.",
        examples: &["%chart bar x=site y=avg(temperature_c)\nSELECT * FROM readings"],
    },
    Magic {
        name: "%profile",
        usage: "%profile [TABLE | 's3://…' | (SELECT …)] [--footer]",
        about: "Profile every column: nulls, approximate distinct values, min/max, mean/std, quartiles, top values and a histogram, computed over every row. Above a query (or alone, the last result) it profiles that. For Parquet on S3 the footers' statistics come first, before any data is read; --footer shows only those.",
        examples: &["%profile 's3://demo/sensors/sensors.json'"],
    },
    Magic {
        name: "%export",
        usage: "%export csv|parquet|json [s3://dest] [(SELECT …)]",
        about: "Write every row of a result (the query below, the (SELECT …), or alone the last result) to one S3 object — by default under your export prefix (QUARRY_EXPORT_PREFIX, default s3://<user>/exports/) — and show its size, row count, a download link and the SQL that reads it back.",
        examples: &[
            "%export parquet\nSELECT site, max(co_ppm) AS peak_co FROM readings GROUP BY site",
        ],
    },
    Magic {
        name: "%set",
        usage: "%set [name = value]",
        about: "Set a query parameter, used in SQL as $name; alone, list them. Values are typed: 42, 2.5, \"text\", true, 2024-05-01, 2024-05-01T08:30:00, [\"a\", \"b\"]. They are bound as values, never pasted into the SQL, so quotes in a value are just characters.",
        examples: &[
            "%set since = 2026-01-08",
            "SELECT count(*) AS readings FROM readings WHERE reading_time >= $since",
        ],
    },
    Magic {
        name: "%unset",
        usage: "%unset name",
        about: "Remove the query parameter $name.",
        examples: &["%unset since"],
    },
    Magic {
        name: "%s3",
        usage: "%s3 ls|head|cp|rm|whoami …",
        about: "Browse and manage S3 objects with the kernel's credentials.",
        examples: &["%s3 whoami", "%s3 ls s3://demo/sensors/"],
    },
    Magic {
        name: "%spark",
        usage: "%spark start [--executors N] [--executor-memory 2g] [--executor-cores N] [--image IMG] [--conf k=v]… | status | logs [EXECUTOR] | stop",
        about: "Start and manage a Spark session: executors run as Kubernetes pods inside the platform, in local mode elsewhere.",
        examples: &["%spark start", "%spark status"],
    },
    Magic {
        name: "%%spark",
        usage: "%%spark [-o NAME] [-i TABLE]… [--limit N]",
        about: "Run the cell as Spark SQL; -i sends kernel table TABLE to Spark first, -o keeps the whole result as kernel table NAME. Without -o, Spark's first 10,000 rows come back (--limit N for another number) and the cell says when there were more.",
        examples: &[
            "%%spark -i readings\nSELECT site, count(*) AS readings FROM readings GROUP BY site ORDER BY site",
            "%spark stop",
        ],
    },
];

/// Above this many displayed rows, `%config max_rows` warns.
const LARGE_DISPLAY: usize = 10_000;

pub(super) async fn run(
    handler: &QuarryHandler,
    line: &str,
    outputs: &Outputs,
) -> Result<(), ExecuteError> {
    let mut words = line.split_whitespace();
    let name = words.next().unwrap_or_default();
    let args: Vec<&str> = words.collect();
    match name {
        "%lsmagic" => {
            outputs.display(display::help_markdown(&magic_list()), None);
            Ok(())
        }
        "%help" => {
            outputs.display(display::help_markdown(HELP), None);
            Ok(())
        }
        "%echo" => {
            let text = line
                .trim_start()
                .strip_prefix("%echo")
                .unwrap_or_default()
                .trim_start();
            outputs.stdout(&format!("{text}\n"));
            Ok(())
        }
        "%config" => config(handler, &args, outputs),
        "%catalog" => super::catalog::show(handler, outputs),
        "%set" => set(handler, rest_of(line, "%set"), outputs),
        "%unset" => unset(handler, &args, outputs),
        "%s3" => {
            let rest = line.trim_start().strip_prefix("%s3").unwrap_or_default();
            super::s3::run(handler, &super::s3::split_args(rest)?, outputs).await
        }
        "%spark" => handler.spark_magic(&args, outputs).await,
        "%chart" | "%profile" => Err(ExecuteError::new(
            "UsageError",
            format!(
                "{name} presents the cell's result, and a cell has one such line: only the first %chart or %profile applies."
            ),
        )),
        "%%spark" => Err(ExecuteError::new(
            "SparkUsageError",
            "%%spark must be the first line of its cell: the whole cell below it is Spark SQL.",
        )),
        _ => Err(ExecuteError::new(
            "UnknownMagic",
            format!("{name} is not a Quarry magic: %lsmagic lists the ones that exist."),
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

/// The magic reference in the documentation (`docs/magics.md`): the same
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

fn rest_of<'a>(line: &'a str, magic: &str) -> &'a str {
    line.trim_start()
        .strip_prefix(magic)
        .unwrap_or_default()
        .trim()
}

fn parameter_error(error: quarry_sql::SqlError) -> ExecuteError {
    ExecuteError::new(error.kind.ename(), error.message)
}

/// `%set` lists the parameters; `%set name = value` (or `name value`) sets one.
fn set(handler: &QuarryHandler, rest: &str, outputs: &Outputs) -> Result<(), ExecuteError> {
    let parameters = handler.session.parameters();
    if rest.is_empty() {
        let list = parameters.list();
        if list.is_empty() {
            outputs.stdout(
                "No parameters are set: %set name = value sets one, used in SQL as $name.\n",
            );
            return Ok(());
        }
        let mut table = HtmlTable::new([
            ("parameter", Cell::Code),
            ("type", Cell::Text),
            ("value", Cell::Code),
        ]);
        let mut text = String::new();
        for (name, parameter) in &list {
            let type_name = parameter.type_name();
            text.push_str(&format!("${name}  {type_name}  {}\n", parameter.text));
            table.row([format!("${name}").as_str(), &type_name, &parameter.text]);
        }
        outputs.display(display::text_and_html(&text, table.to_html()), None);
        return Ok(());
    }
    let (name, value) = match rest.split_once('=') {
        Some((name, value)) => (name.trim(), value.trim()),
        None => rest
            .split_once(char::is_whitespace)
            .map_or((rest, ""), |(n, v)| (n, v.trim())),
    };
    let name = name.trim_start_matches('$');
    let parameter = parameters.set(name, value).map_err(parameter_error)?;
    outputs.stdout(&format!(
        "${name} = {} ({})\n",
        parameter.text,
        parameter.type_name()
    ));
    Ok(())
}

fn unset(handler: &QuarryHandler, args: &[&str], outputs: &Outputs) -> Result<(), ExecuteError> {
    let [name] = args else {
        return Err(ExecuteError::new(
            "ParameterError",
            "%unset takes one parameter name: %unset city.",
        ));
    };
    if handler.session.parameters().unset(name) {
        outputs.stdout(&format!(
            "${} is no longer set.\n",
            name.trim_start_matches('$')
        ));
        Ok(())
    } else {
        Err(ExecuteError::new(
            "ParameterError",
            format!(
                "${} is not set (%set lists the parameters).",
                name.trim_start_matches('$')
            ),
        ))
    }
}

fn config(handler: &QuarryHandler, args: &[&str], outputs: &Outputs) -> Result<(), ExecuteError> {
    match args {
        [] => {
            let config = handler.config();
            let memory = handler.session.memory_in_words();
            let settings = [
                ("max_rows", config.max_rows.to_string()),
                ("memory_limit", memory),
                (
                    "s3_cache",
                    describe_cache(handler.session.s3().cache().map(|c| c.stats())),
                ),
                (
                    "s3_endpoint",
                    handler.session.s3().settings().endpoint_display(),
                ),
            ];
            let mut table = HtmlTable::new([("setting", Cell::Code), ("value", Cell::Text)]);
            let mut text = String::new();
            for (name, value) in &settings {
                text.push_str(&format!("{name:<14}{value}\n"));
                table.row([*name, value.as_str()]);
            }
            outputs.display(display::text_and_html(&text, table.to_html()), None);
            Ok(())
        }
        ["max_rows", value] => {
            let rows: usize = value.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                ExecuteError::new(
                    "ConfigError",
                    format!("max_rows must be a positive whole number, not '{value}'."),
                )
            })?;
            handler.config.lock().expect("config lock").max_rows = rows;
            outputs.stdout(&format!("max_rows = {rows}\n"));
            if rows > LARGE_DISPLAY {
                outputs.stderr(&format!(
                    "Warning: showing more than {LARGE_DISPLAY} rows makes notebooks large and browsers slow; \
                     consider COPY … TO 's3://…' for big results.\n"
                ));
            }
            Ok(())
        }
        ["s3_cache", "clear"] => {
            match handler.session.s3().cache() {
                Some(cache) => {
                    let held = cache.stats().used;
                    cache.clear();
                    outputs.stdout(&format!(
                        "Dropped {} of cached S3 reads and decoded files; the next queries read from S3 again.\n",
                        human_bytes(held as u64)
                    ));
                }
                None => outputs.stdout("The S3 cache is off (QUARRY_S3_CACHE=0).\n"),
            }
            Ok(())
        }
        ["memory_limit", ..] => Err(ExecuteError::new(
            "ConfigError",
            "memory_limit is fixed when the kernel starts: set QUARRY_MEMORY_LIMIT (e.g. 4g) and restart the kernel.",
        )),
        _ => Err(ExecuteError::new(
            "ConfigError",
            format!(
                "Unknown setting '{}': use %config max_rows N or %config s3_cache clear (see %help).",
                args.join(" ")
            ),
        )),
    }
}

/// `1.2 GiB of 3.6 GiB held · 84% of reads from memory`, for `%config`.
fn describe_cache(stats: Option<CacheStats>) -> String {
    let Some(stats) = stats else {
        return "off (QUARRY_S3_CACHE=0)".to_string();
    };
    let mut held = format!(
        "{} of {} held",
        human_bytes(stats.used as u64),
        human_bytes(stats.capacity as u64)
    );
    if stats.derived_bytes > 0 {
        held.push_str(&format!(
            " ({} of it CSV/JSON kept decoded)",
            human_bytes(stats.derived_bytes as u64)
        ));
    }
    let read = stats.hit_bytes + stats.fetched_bytes;
    if read == 0 {
        return held;
    }
    let share = (stats.hit_bytes as f64 / read as f64 * 100.0).round();
    format!("{held} · {share}% of bytes read came from memory")
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
const HELP: &str = r#"## Quarry

Cells are **SQL** (Apache DataFusion). Separate statements with `;` — the last one's result is shown. These run as written on the demo data of `quarry lab`:

```sql
SELECT site, avg(temperature_c) AS avg_temp FROM 's3://demo/sensors/readings.parquet' GROUP BY site ORDER BY site

CREATE EXTERNAL TABLE readings STORED AS PARQUET LOCATION 's3://demo/sensors/readings.parquet'

COPY (SELECT * FROM readings WHERE temperature_c > 25) TO 's3://demo/examples/warm.parquet' STORED AS PARQUET
```

* Query CSV, Parquet and JSON files or folders straight from `s3://` URLs (a folder holds one format).
* Tab completes keywords, functions, tables, columns and `s3://` paths; Shift+Tab shows a table's or file's schema.
* The stop button interrupts a running query; tables from earlier cells are kept.
* `%config max_rows N` changes how many rows are displayed; `SET datafusion.…` tunes the engine.
* Bytes read from S3 stay in memory for the next queries, and CSV/JSON files stay decoded (`%config` shows how much; `%config s3_cache clear` drops them); an object rewritten by anyone is read afresh once listed again.
* `%spark start` starts Spark (executor pods on the platform, local mode elsewhere); a cell starting with `%%spark` is Spark SQL: `-i TABLE` sends a kernel table to Spark, `-o NAME` keeps the result as a kernel table. `%spark status`, `%spark logs [EXECUTOR]`, `%spark stop`.
* `%set` sets a parameter used in SQL as `$name` (numbers, text, dates, timestamps, `[lists]` keep their types; values are bound, never pasted into the SQL); `%set` alone lists them, `%unset name` removes one.
* `%chart` above a query draws it (alone: the last result). The engine bins and aggregates every row; the chart says how many rows it summarises.
* `%profile` shows every column's nulls, distinct values, range, mean, quartiles, top values and histogram; for Parquet the footers' statistics come first, read before any data.
* `%export parquet` (or `csv`, `json`) writes the whole last result — or the query below it — to one S3 object under your export prefix (or `%export csv s3://bucket/file.csv`), with a download link and the `SELECT` that reads it back.
* `%lsmagic` lists the magics, each with examples to try.

```sql
%set site = 'tunnel'
SELECT count(*) AS readings FROM readings WHERE site = $site

%chart line x=reading_time y=avg(temperature_c) color=site
SELECT * FROM readings

%chart hist x=temperature_c
SELECT * FROM readings

%chart bar x=sensor_id
SELECT * FROM readings

%profile readings

%profile 's3://demo/sensors/readings.parquet'

%export csv
SELECT site, max(co_ppm) AS peak_co FROM readings GROUP BY site

%s3 ls s3://demo/sensors/

%s3 head s3://demo/sensors/sensors.json
```
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_line_says_how_much_is_held_and_reused() {
        assert_eq!(describe_cache(None), "off (QUARRY_S3_CACHE=0)");
        let fresh = CacheStats {
            capacity: 1 << 30,
            ..CacheStats::default()
        };
        assert_eq!(describe_cache(Some(fresh)), "0 B of 1.0 GiB held");
        let used = CacheStats {
            used: 3 << 20,
            hit_bytes: 3,
            fetched_bytes: 1,
            ..fresh
        };
        assert_eq!(
            describe_cache(Some(used)),
            "3.0 MiB of 1.0 GiB held · 75% of bytes read came from memory"
        );
    }

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

    /// `docs/magics.md` is the table, byte for byte.
    #[test]
    fn the_docs_magic_reference_is_the_table() {
        // At run time, as in quarry-s3's table_formats test: a CI clone may
        // reuse a test binary built in another checkout.
        let manifest = std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
        let path = format!("{manifest}/../../docs/magics.md");
        let expected = reference_markdown();
        if std::env::var_os("QUARRY_BLESS").is_some() {
            std::fs::write(&path, &expected).unwrap();
        }
        let actual = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(
            actual, expected,
            "docs/magics.md is out of date: run QUARRY_BLESS=1 cargo test --workspace magic_reference"
        );
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
