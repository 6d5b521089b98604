//! `%help`: how to use Quarry, with the magics listed from the table.

/// `%help`'s text: the guide below, then every magic's usage and the first
/// sentence of its help, from the magic table.
pub(super) fn help_markdown() -> String {
    let mut text = String::from(GUIDE);
    text.push_str("\n### Magics\n\n`%lsmagic` shows each with examples to try.\n\n");
    for magic in super::table::MAGICS {
        let first = magic
            .about
            .split_inclusive(". ")
            .next()
            .unwrap_or(magic.about)
            .trim_end();
        text.push_str(&format!("* `{}` — {}\n", magic.usage, first));
    }
    text
}

const GUIDE: &str = r#"## Quarry

Cells are **SQL** (Apache DataFusion). Separate statements with `;` — the last one's result is shown. These run as written on the demo data of `quarry lab`:

```sql
SELECT site, avg(temperature_c) AS avg_temp FROM 's3://demo/sensors/readings.parquet' GROUP BY site ORDER BY site

CREATE EXTERNAL TABLE readings STORED AS PARQUET LOCATION 's3://demo/sensors/readings.parquet'

COPY (SELECT * FROM readings WHERE temperature_c > 25) TO 's3://demo/examples/warm.parquet' STORED AS PARQUET
```

* Query CSV, Parquet and JSON files or folders straight from `s3://` URLs (a folder holds one format).
* Tab completes keywords, functions, tables, columns and `s3://` paths; Shift+Tab shows a table's or file's schema.
* The stop button interrupts a running query; tables from earlier cells are kept.
* `SET datafusion.…` tunes the engine; magics (below) run Spark, chart, profile, export and set `$name` parameters.
* Bytes read from S3 stay in memory for the next queries, and CSV/JSON files stay decoded (`%config` shows how much; `%config s3_cache clear` drops them); an object rewritten by anyone is read afresh once listed again.

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
