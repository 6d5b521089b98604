//! The user's kept tables, as Spark sees them: before each `%%spark` cell
//! every kept external table on S3 is a temporary view over `s3a://` (read
//! by Spark itself, with the kernel's renewed keys), and every kept view a
//! temporary view of its query, so `%%spark SELECT … FROM readings` needs
//! no `-i`. Only what changed since the last cell is sent.
//!
//! And back: a `%%spark CREATE TABLE … LOCATION '…'` cell's table is kept
//! in the catalog too ([`kept_from_spark`]), as the external table over the
//! same files, so SQL cells and other notebooks see it by name.

use std::collections::HashMap;

use quarry_spark::SparkSession;
use quarry_sql::lakehouse::KeptTable;

/// The Spark statement that makes `table` a temporary view, if Spark can
/// read it.
pub(super) fn spark_view(table: &KeptTable) -> Option<String> {
    let name = &table.name;
    if let Some(query) = &table.query {
        return Some(format!(
            "CREATE OR REPLACE TEMPORARY VIEW `{name}` AS {query}"
        ));
    }
    let location = table.location.as_deref()?;
    // One folder or object: several locations have no Spark path list.
    if location.contains(", ") {
        return None;
    }
    // S3 through s3a; a local path as a file URL (local mode shares the
    // kernel's files; a cluster's executors do not have them).
    let url = match location.strip_prefix("s3://") {
        Some(path) => format!("s3a://{path}"),
        None if location.starts_with('/') => format!("file://{location}"),
        None => return None,
    };
    let url = url.replace('\'', "\\'");
    let options = match table.format.as_deref()? {
        "PARQUET" => "parquet OPTIONS (path '{url}')",
        "CSV" => "csv OPTIONS (path '{url}', header 'true', inferSchema 'true')",
        "JSON" | "NDJSON" => "json OPTIONS (path '{url}')",
        _ => return None,
    }
    .replace("{url}", &url);
    Some(format!(
        "CREATE OR REPLACE TEMPORARY VIEW `{name}` USING {options}"
    ))
}

/// What to send so Spark's views match the catalog, given what was sent:
/// new and changed views, and drops for those no longer kept.
pub(super) fn changes(
    kept: &[KeptTable],
    sent: &HashMap<String, String>,
) -> Vec<(String, Option<String>)> {
    let wanted: HashMap<&str, String> = kept
        .iter()
        .filter_map(|t| spark_view(t).map(|sql| (t.name.as_str(), sql)))
        .collect();
    let mut changes: Vec<(String, Option<String>)> = wanted
        .iter()
        .filter(|(name, sql)| sent.get(**name) != Some(sql))
        .map(|(name, sql)| (name.to_string(), Some(sql.clone())))
        .collect();
    // Tables before the views over them, each group by name.
    changes.sort_by_key(|(name, sql)| {
        let is_view = sql.as_deref().is_some_and(|s| !s.contains(" USING "));
        (is_view, name.clone())
    });
    changes.extend(
        sent.keys()
            .filter(|name| !wanted.contains_key(name.as_str()))
            .map(|name| (name.clone(), None)),
    );
    changes
}

/// Brings Spark's temporary views in line with the catalog; `sent` is
/// what this Spark session was given so far. A view Spark refuses (a
/// DataFusion-only function in a kept view, say) is left out, logged.
pub(super) async fn share(
    spark: &SparkSession,
    kept: &[KeptTable],
    sent: &mut HashMap<String, String>,
    tag: &str,
) {
    for (name, sql) in changes(kept, sent) {
        let statement = sql
            .clone()
            .unwrap_or_else(|| format!("DROP VIEW IF EXISTS `{name}`"));
        match spark.sql(&statement, tag, |_| {}).await {
            Ok(_) => match sql {
                Some(sql) => {
                    sent.insert(name, sql);
                }
                None => {
                    sent.remove(&name);
                }
            },
            Err(e) => tracing::warn!(table = %name, "Spark could not see a kept table: {e}"),
        }
    }
}

/// The table a Spark statement creates over files of its own choosing
/// (`CREATE [OR REPLACE] [EXTERNAL] TABLE [IF NOT EXISTS] name … LOCATION`).
pub(super) fn created_table(statement: &str) -> Option<String> {
    let words: Vec<&str> = statement.split_whitespace().collect();
    let upper: Vec<String> = words.iter().map(|w| w.to_ascii_uppercase()).collect();
    let mut i = 0;
    let expect = |word: &str, i: &mut usize| {
        let found = upper.get(*i).is_some_and(|w| w == word);
        if found {
            *i += 1;
        }
        found
    };
    if !expect("CREATE", &mut i) {
        return None;
    }
    if expect("OR", &mut i) && !expect("REPLACE", &mut i) {
        return None;
    }
    expect("EXTERNAL", &mut i);
    if !expect("TABLE", &mut i) {
        return None;
    }
    if expect("IF", &mut i) && !(expect("NOT", &mut i) && expect("EXISTS", &mut i)) {
        return None;
    }
    if !upper.iter().any(|w| w == "LOCATION") {
        return None;
    }
    let name = words.get(i)?.split('(').next()?.trim_matches('`');
    let plain = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    plain.then(|| name.to_ascii_lowercase())
}

/// Spark's account of a table (`DESCRIBE TABLE EXTENDED` rows: name,
/// value) as Quarry's `CREATE EXTERNAL TABLE`, if Quarry reads its format.
pub(super) fn external_table_statement(
    name: &str,
    described: &[(String, String)],
) -> Option<String> {
    let value = |key: &str| {
        described
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.trim())
    };
    let format = match value("Provider")?.to_ascii_lowercase().as_str() {
        "parquet" => "PARQUET",
        "json" => "JSON",
        "delta" => "DELTATABLE",
        _ => return None,
    };
    let location = value("Location")?;
    let location = if let Some(path) = location.strip_prefix("s3a://") {
        format!("s3://{path}")
    } else if let Some(path) = location.strip_prefix("file:") {
        format!("/{}", path.trim_start_matches('/'))
    } else if location.starts_with("s3://") {
        location.to_string()
    } else {
        return None;
    };
    let folder = if location.ends_with('/') {
        location
    } else {
        format!("{location}/")
    };
    Some(format!(
        "CREATE EXTERNAL TABLE {name} STORED AS {format} LOCATION '{}'",
        folder.replace('\'', "''")
    ))
}

/// After a Spark cell that created `name` over files: keeps it in the
/// catalog, returning the line the cell shows (kept, or why not).
pub(super) async fn kept_from_spark(
    spark: &SparkSession,
    sql: &quarry_sql::SqlSession,
    name: &str,
    tag: &str,
) -> Option<String> {
    let described = spark
        .sql_rows(
            &format!("DESCRIBE TABLE EXTENDED `{name}`"),
            None,
            tag,
            |_| {},
        )
        .await
        .ok()?;
    let rows = described_rows(&described.batches);
    let Some(statement) = external_table_statement(name, &rows) else {
        return Some(format!(
            "Spark's table {name} is not kept in your catalog: Quarry reads Parquet, JSON and Delta tables on S3 (or local files)."
        ));
    };
    let progress = std::sync::Arc::new(quarry_sql::engine::CellProgress::default());
    Some(match sql.run_cell(&statement, 0, progress).await {
        Ok(_) => format!("Kept in your catalog as well: SQL cells and other notebooks see {name}."),
        Err(e) => format!(
            "Spark's table {name} is not kept in your catalog: {}",
            e.message
        ),
    })
}

/// The (name, value) rows of a `DESCRIBE` answer.
fn described_rows(
    batches: &[quarry_sql::arrow::record_batch::RecordBatch],
) -> Vec<(String, String)> {
    use quarry_sql::arrow::array::{Array, StringArray};
    let mut rows = Vec::new();
    for batch in batches {
        let (Some(keys), Some(values)) = (
            batch.column(0).as_any().downcast_ref::<StringArray>(),
            batch.column(1).as_any().downcast_ref::<StringArray>(),
        ) else {
            continue;
        };
        for i in 0..batch.num_rows() {
            if !keys.is_null(i) && !values.is_null(i) {
                rows.push((keys.value(i).to_string(), values.value(i).to_string()));
            }
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(name: &str, format: &str, location: &str) -> KeptTable {
        KeptTable {
            name: name.into(),
            kind: "table",
            location: Some(location.into()),
            format: Some(format.into()),
            statement: String::new(),
            query: None,
        }
    }

    #[test]
    fn kept_tables_become_spark_views_over_s3a() {
        assert_eq!(
            spark_view(&table("readings", "PARQUET", "s3://data/readings/")).unwrap(),
            "CREATE OR REPLACE TEMPORARY VIEW `readings` USING parquet OPTIONS (path 's3a://data/readings/')"
        );
        assert!(
            spark_view(&table("raw", "CSV", "s3://data/raw.csv"))
                .unwrap()
                .contains("csv OPTIONS (path 's3a://data/raw.csv', header 'true'")
        );
        assert_eq!(
            spark_view(&table("local", "PARQUET", "/home/a/x.parquet")).unwrap(),
            "CREATE OR REPLACE TEMPORARY VIEW `local` USING parquet OPTIONS (path 'file:///home/a/x.parquet')"
        );
        assert_eq!(spark_view(&table("rel", "PARQUET", "data/x.parquet")), None);
        assert_eq!(
            spark_view(&table("two", "PARQUET", "s3://a/x, s3://a/y")),
            None
        );
        let view = KeptTable {
            kind: "view",
            location: None,
            format: None,
            query: Some("SELECT site FROM readings".into()),
            ..table("north", "", "")
        };
        assert_eq!(
            spark_view(&view).unwrap(),
            "CREATE OR REPLACE TEMPORARY VIEW `north` AS SELECT site FROM readings"
        );
    }

    #[test]
    fn only_what_changed_is_sent() {
        let view = KeptTable {
            kind: "view",
            query: Some("SELECT 1".into()),
            ..table("a_view", "", "")
        };
        let kept = [
            view,
            table("b", "PARQUET", "s3://d/b/"),
            table("a", "PARQUET", "s3://d/a/"),
        ];
        // Tables first (a view may read them), then views.
        let order: Vec<String> = changes(&kept, &HashMap::new())
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(order, ["a", "b", "a_view"]);
        let kept = [
            table("a", "PARQUET", "s3://d/a/"),
            table("b", "PARQUET", "s3://d/b/"),
        ];
        let mut sent = HashMap::new();
        assert_eq!(changes(&kept, &sent).len(), 2);
        for (name, sql) in changes(&kept, &sent) {
            sent.insert(name, sql.unwrap());
        }
        assert!(changes(&kept, &sent).is_empty());
        let moved = [table("a", "PARQUET", "s3://d/a2/")];
        assert_eq!(
            changes(&moved, &sent),
            vec![
                ("a".to_string(), spark_view(&moved[0])),
                ("b".to_string(), None)
            ]
        );
    }

    #[test]
    fn statements_that_create_a_table_over_files_are_recognised() {
        let created = |s: &str| created_table(s);
        assert_eq!(
            created("CREATE TABLE Daily USING parquet LOCATION 's3a://data/daily/' AS SELECT 1")
                .as_deref(),
            Some("daily")
        );
        assert_eq!(
            created("create or replace table `t`(id INT) using json location '/tmp/t'").as_deref(),
            Some("t")
        );
        assert_eq!(
            created("CREATE TABLE t AS SELECT 1"),
            None,
            "a managed table"
        );
        assert_eq!(created("SELECT 'CREATE TABLE x LOCATION'"), None);
        assert_eq!(created("CREATE TEMPORARY VIEW v AS SELECT 1"), None);
    }

    #[test]
    fn spark_descriptions_become_external_tables() {
        let described = |provider: &str, location: &str| {
            vec![
                ("id".to_string(), "bigint".to_string()),
                ("Provider".to_string(), provider.to_string()),
                ("Location".to_string(), location.to_string()),
            ]
        };
        assert_eq!(
            external_table_statement("daily", &described("parquet", "s3a://data/daily")).as_deref(),
            Some("CREATE EXTERNAL TABLE daily STORED AS PARQUET LOCATION 's3://data/daily/'")
        );
        assert_eq!(
            external_table_statement("t", &described("delta", "file:/tmp/t")).as_deref(),
            Some("CREATE EXTERNAL TABLE t STORED AS DELTATABLE LOCATION '/tmp/t/'")
        );
        assert_eq!(
            external_table_statement("t", &described("orc", "s3a://d/t")),
            None
        );
        assert_eq!(
            external_table_statement("t", &described("parquet", "hdfs://nn/t")),
            None
        );
    }
}
