//! The magic table: each magic's name, usage, help, examples and what it
//! runs. `%lsmagic`, `%help`'s list, completion, inspection and the docs'
//! magic reference are all produced from it.

use super::{Magic, now, settings, show_markdown};
use crate::protocol::ExecuteError;

pub(super) const MAGICS: &[Magic] = &[
    Magic {
        name: "%lsmagic",
        usage: "%lsmagic",
        about: "List the available magics.",
        examples: &["%lsmagic"],
        run: |_, _, outputs| now(show_markdown(&super::magic_list(), outputs)),
    },
    Magic {
        name: "%help",
        usage: "%help",
        about: "Show how to use Quarry: SQL cells, S3 URLs and magics.",
        examples: &["%help"],
        run: |_, _, outputs| now(show_markdown(&super::help::help_markdown(), outputs)),
    },
    Magic {
        name: "%config",
        usage: "%config [max_rows N | s3_cache clear]",
        about: "Show the kernel settings, or change one. max_rows caps the rows displayed per result (the true row count is always stated). s3_cache clear drops the S3 bytes and decoded CSV/JSON kept in memory between queries (QUARRY_S3_CACHE sets its size; a rewritten object is never answered from it). Engine settings use SQL: SET datafusion.execution.target_partitions = 4.",
        examples: &["%config", "%config max_rows 50"],
        run: |handler, line, outputs| now(settings::config(handler, &line.args(), outputs)),
    },
    Magic {
        name: "%catalog",
        usage: "%catalog",
        about: "List the tables and views kept in your catalog (CREATE EXTERNAL TABLE and CREATE VIEW keep them for every kernel of yours, after restarts too; DROP removes them everywhere), with where they live, and the tables in this kernel only.",
        examples: &["%catalog"],
        run: |handler, _, outputs| now(crate::catalog::show(handler, outputs)),
    },
    Magic {
        name: "%echo",
        usage: "%echo TEXT",
        about: "Print TEXT to the cell's output.",
        examples: &["%echo Hello from Quarry"],
        run: |_, line, outputs| now(echo(line, outputs)),
    },
    Magic {
        name: "%chart",
        usage: "%chart [bar|line|area|point|heatmap|hist|pie] [x=COL] [y=AGG(COL)] [color=COL] [facet=COL] [title=\"…\"]",
        about: "Chart the query below it (or, alone, the last result; above %%spark, a Spark query). Bins, time units and top-N with \"other\" are computed by the engine over every row, never a sample; the subtitle says what the chart summarises. With no arguments the chart is chosen from the columns. AGG is count, sum, avg, min or max.",
        examples: &["%chart bar x=site y=avg(temperature_c)\nSELECT * FROM readings"],
        run: |_, line, _| now(Err(misplaced_presenter(line.name))),
    },
    Magic {
        name: "%profile",
        usage: "%profile [TABLE | 's3://…' | (SELECT …)] [--footer]",
        about: "Profile every column: nulls, approximate distinct values, min/max, mean/std, quartiles, top values and a histogram, computed over every row. Above a query (or alone, the last result) it profiles that. For Parquet on S3 the footers' statistics come first, before any data is read; --footer shows only those.",
        examples: &["%profile 's3://demo/sensors/sensors.json'"],
        run: |_, line, _| now(Err(misplaced_presenter(line.name))),
    },
    Magic {
        name: "%export",
        usage: "%export csv|parquet|json [s3://dest] [(SELECT …)]",
        about: "Write every row of a result (the query below, the (SELECT …), or alone the last result) to one S3 object — by default under your export prefix (QUARRY_EXPORT_PREFIX, default s3://USER/exports/ for user USER) — and show its size, row count, a download link and the SQL that reads it back.",
        examples: &[
            "%export parquet\nSELECT site, max(co_ppm) AS peak_co FROM readings GROUP BY site",
        ],
        run: |_, line, _| now(Err(misplaced_presenter(line.name))),
    },
    Magic {
        name: "%set",
        usage: "%set [name = value]",
        about: "Set a query parameter, used in SQL as $name; alone, list them. Values are typed: 42, 2.5, \"text\", true, 2024-05-01, 2024-05-01T08:30:00, [\"a\", \"b\"]. They are bound as values, never pasted into the SQL, so quotes in a value are just characters.",
        examples: &[
            "%set since = 2026-01-08",
            "SELECT count(*) AS readings FROM readings WHERE reading_time >= $since",
        ],
        run: |handler, line, outputs| now(settings::set(handler, line.rest(), outputs)),
    },
    Magic {
        name: "%unset",
        usage: "%unset name",
        about: "Remove the query parameter $name.",
        examples: &["%unset since"],
        run: |handler, line, outputs| now(settings::unset(handler, &line.args(), outputs)),
    },
    Magic {
        name: "%s3",
        usage: "%s3 ls|head|cp|rm|whoami …",
        about: "Browse and manage S3 objects with the kernel's credentials.",
        examples: &["%s3 whoami", "%s3 ls s3://demo/sensors/"],
        run: |handler, line, outputs| {
            Box::pin(async move {
                let args = crate::s3::split_args(line.after_name())?;
                crate::s3::run(handler, &args, outputs).await
            })
        },
    },
    Magic {
        name: "%spark",
        usage: "%spark start [--executors N] [--executor-memory 2g] [--executor-cores N] [--image IMG] [--conf k=v]… | status | logs [EXECUTOR] | stop",
        about: "Start and manage a Spark session: executors run as Kubernetes pods inside the platform, in local mode elsewhere.",
        examples: &["%spark start", "%spark status"],
        run: |handler, line, outputs| {
            Box::pin(async move { handler.spark_magic(&line.args(), outputs).await })
        },
    },
    Magic {
        name: "%%spark",
        usage: "%%spark [-o NAME] [-i TABLE]… [--limit N]",
        about: "Run the cell as Spark SQL; -i sends kernel table TABLE to Spark first, -o keeps the whole result as kernel table NAME. Without -o, Spark's first 10,000 rows come back (--limit N for another number) and the cell says when there were more.",
        examples: &[
            "%%spark -i readings\nSELECT site, count(*) AS readings FROM readings GROUP BY site ORDER BY site",
            "%spark stop",
        ],
        run: |_, _, _| now(Err(misplaced_cell_magic())),
    },
];

/// `%echo TEXT`.
fn echo(
    line: &super::MagicLine<'_>,
    outputs: &crate::protocol::Outputs,
) -> Result<(), ExecuteError> {
    outputs.stdout(&format!("{}\n", line.after_name().trim_start()));
    Ok(())
}

/// `%chart`, `%profile` or `%export` where the cell's presenting line was
/// already taken.
fn misplaced_presenter(name: &str) -> ExecuteError {
    ExecuteError::new(
        "UsageError",
        format!(
            "{name} presents the cell's result, and a cell has one such line: only the first %chart, %profile or %export applies."
        ),
    )
}

fn misplaced_cell_magic() -> ExecuteError {
    ExecuteError::new(
        "SparkUsageError",
        "%%spark must be the first line of its cell: the whole cell below it is Spark SQL.",
    )
}
