//! Which objects Quarry's SQL reads straight from a URL, by file name.
//!
//! The panel offers "Query in Notebook" and previews a table exactly for
//! these, and `%s3 head` shows rows instead of text. The labextension's
//! TypeScript holds a generated copy (`labextension/src/panel/table-formats.ts`,
//! checked against this list by a test) because the panel decides before
//! it asks the backend anything.

/// A file format DataFusion reads from `FROM 's3://…'`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFormat {
    /// Apache Parquet.
    Parquet,
    /// Comma-separated values with a header row (optionally compressed).
    Csv,
    /// Newline-delimited JSON (optionally compressed).
    Json,
    /// Arrow IPC files.
    Arrow,
}

/// Every name ending SQL reads, with its format; longest first so a
/// compressed `.csv.gz` is matched before a plain ending would be.
///
/// Only what DataFusion's URL tables infer: `.ndjson`, `.jsonl` and
/// `.avro` are not among them (a test checks both directions against
/// the engine).
pub const TABLE_EXTENSIONS: &[(&str, TableFormat)] = &[
    (".csv.bz2", TableFormat::Csv),
    (".csv.zst", TableFormat::Csv),
    (".json.gz", TableFormat::Json),
    (".csv.gz", TableFormat::Csv),
    (".csv.xz", TableFormat::Csv),
    (".parquet", TableFormat::Parquet),
    (".arrow", TableFormat::Arrow),
    (".json", TableFormat::Json),
    (".csv", TableFormat::Csv),
];

/// The table format of an object named `key`, if SQL can read it.
pub fn table_format(key: &str) -> Option<TableFormat> {
    let lower = key.to_ascii_lowercase();
    TABLE_EXTENSIONS
        .iter()
        .find(|(ext, _)| lower.ends_with(ext))
        .map(|(_, format)| *format)
}

/// The TypeScript module the labextension imports: the same list.
#[cfg(test)]
fn typescript_module() -> String {
    let mut out = String::from(
        "// Generated from crates/quarry-s3/src/table_formats.rs; do not edit.\n\
         // `QUARRY_BLESS=1 cargo test -p quarry-s3 table_formats` rewrites it.\n\n\
         /** Name endings Quarry's SQL reads straight from an s3:// URL. */\n\
         export const TABLE_EXTENSIONS: readonly string[] = [\n",
    );
    for (ext, _) in TABLE_EXTENSIONS {
        out.push_str(&format!("  '{ext}',\n"));
    }
    out.push_str("];\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_formats_case_insensitively() {
        assert_eq!(table_format("a/b.PARQUET"), Some(TableFormat::Parquet));
        assert_eq!(table_format("x.csv.gz"), Some(TableFormat::Csv));
        assert_eq!(table_format("x.ndjson"), None);
        assert_eq!(table_format("dir/"), None);
        assert_eq!(table_format("notes.txt"), None);
    }

    /// The labextension's copy is this list, byte for byte.
    #[test]
    fn the_panel_has_the_same_list() {
        quarry_testkit::generated::assert_generated(
            "labextension/src/panel/table-formats.ts",
            &typescript_module(),
            "cargo test --workspace table_formats",
        );
    }
}
