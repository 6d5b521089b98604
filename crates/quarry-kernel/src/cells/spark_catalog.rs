//! The user's kept tables, as Spark sees them: before each `%%spark` cell
//! every kept external table on S3 is a temporary view over `s3a://` (read
//! by Spark itself, with the kernel's renewed keys), and every kept view a
//! temporary view of its query, so `%%spark SELECT … FROM readings` needs
//! no `-i`. Only what changed since the last cell is sent.

use std::collections::HashMap;

use quarry_spark::SparkSession;
use quarry_sql::KeptTable;

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
}
