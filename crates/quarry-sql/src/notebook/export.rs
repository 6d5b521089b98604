//! Writing a whole result to one S3 object: `COPY (query) TO 'url'`,
//! no row cap, in the format asked.

use crate::engine::SqlSession;
use crate::engine::error::{ErrorKind, SqlError};

/// The formats a result is exported in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// Comma-separated text with a header row.
    Csv,
    /// Apache Parquet.
    Parquet,
    /// Newline-delimited JSON (what `SELECT * FROM '….json'` reads back).
    Json,
}

impl ExportFormat {
    /// `csv`, `parquet` or `json` (any case).
    pub fn from_name(name: &str) -> Option<ExportFormat> {
        match name.to_ascii_lowercase().as_str() {
            "csv" => Some(ExportFormat::Csv),
            "parquet" => Some(ExportFormat::Parquet),
            "json" | "ndjson" => Some(ExportFormat::Json),
            _ => None,
        }
    }

    /// The file name ending SQL reads this format by.
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Parquet => "parquet",
            ExportFormat::Json => "json",
        }
    }

    fn stored_as(self) -> &'static str {
        match self {
            ExportFormat::Csv => "CSV OPTIONS ('format.has_header' 'true')",
            ExportFormat::Parquet => "PARQUET",
            ExportFormat::Json => "JSON",
        }
    }
}

impl SqlSession {
    /// Writes every row of `query` to the single object `url` (its name
    /// must end in a file extension) and returns how many rows it wrote.
    pub async fn export(
        &self,
        query: &str,
        url: &str,
        format: ExportFormat,
    ) -> Result<u64, SqlError> {
        let query = query.trim().trim_end_matches(';');
        let sql = format!(
            "COPY (\n{query}\n) TO '{}' STORED AS {}",
            url.replace('\'', "''"),
            format.stored_as()
        );
        let outcome = self.run_cell(&sql, 1, Default::default()).await?;
        let written = outcome
            .result
            .and_then(|r| r.batches.first().cloned())
            .and_then(|batch| {
                let column = datafusion::arrow::compute::cast(
                    batch.column(0),
                    &datafusion::arrow::datatypes::DataType::UInt64,
                )
                .ok()?;
                use datafusion::arrow::array::AsArray;
                Some(
                    column
                        .as_primitive::<datafusion::arrow::datatypes::UInt64Type>()
                        .value(0),
                )
            })
            .ok_or_else(|| {
                SqlError::new(
                    ErrorKind::Execution,
                    "The export finished without saying how many rows it wrote.",
                )
            })?;
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::ExportFormat;
    use crate::engine::session::test_session;

    #[tokio::test]
    async fn every_row_goes_to_one_file_that_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let session = test_session();
        for format in [ExportFormat::Csv, ExportFormat::Parquet, ExportFormat::Json] {
            let path = dir
                .path()
                .join(format!("out.{}", format.extension()))
                .display()
                .to_string();
            let rows = session
                .export(
                    "SELECT value AS n, 'x' AS s FROM generate_series(1, 12345)",
                    &path,
                    format,
                )
                .await
                .unwrap();
            assert_eq!(rows, 12345);
            assert!(std::path::Path::new(&path).is_file(), "{path} is one file");
            let back = session
                .run_cell(
                    &format!("SELECT count(*) AS c, sum(n) AS s FROM '{path}'"),
                    1,
                    Default::default(),
                )
                .await
                .unwrap();
            assert_eq!(back.result.unwrap().total_rows, 1);
        }
        assert_eq!(
            ExportFormat::from_name("PARQUET"),
            Some(ExportFormat::Parquet)
        );
        assert_eq!(ExportFormat::from_name("xlsx"), None);
    }
}
