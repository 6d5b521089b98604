//! A first look at one object: rows for a table file, the head of a text
//! file, or just its size — the same for `%s3 head` and the panel's
//! preview pane.

use quarry_s3::S3Location;

use crate::{engine::SqlError, engine::SqlSession, engine::StatementResult};

/// What a preview found.
#[derive(Debug, Clone)]
pub enum Preview {
    /// A file SQL reads (by name, see `quarry_s3::table_format`): its first rows.
    Table {
        /// The object's size in bytes.
        size: u64,
        /// The first rows, all of them counted.
        result: StatementResult,
    },
    /// Text: the first bytes asked for, decoded leniently.
    Text {
        /// The object's size in bytes.
        size: u64,
        /// The text shown.
        text: String,
        /// More bytes follow what is shown.
        truncated: bool,
    },
    /// Bytes that are not text (a NUL among the first ones).
    Binary {
        /// The object's size in bytes.
        size: u64,
    },
}

impl SqlSession {
    /// Previews `location`: up to `rows` rows of a table file, otherwise
    /// up to `text_bytes` bytes of text.
    pub async fn preview(
        &self,
        location: &S3Location,
        rows: usize,
        text_bytes: u64,
    ) -> Result<Preview, SqlError> {
        if quarry_s3::table_format(&location.key).is_some() {
            let info = quarry_s3::head_object(self.s3(), location)
                .await
                .map_err(SqlError::from_failure)?;
            let url = location.to_string();
            let sql = format!("SELECT * FROM '{}' LIMIT {rows}", url.replace('\'', "''"));
            // One lane: the file's first rows, not whichever partition answers first.
            let outcome = self
                .in_one_lane()
                .run_cell(&sql, rows, Default::default())
                .await?;
            let result = outcome
                .result
                .ok_or_else(|| SqlError::config("The preview query returned no table."))?;
            return Ok(Preview::Table {
                size: info.size,
                result,
            });
        }
        let (size, bytes) = quarry_s3::read_head(self.s3(), location, text_bytes)
            .await
            .map_err(SqlError::from_failure)?;
        if bytes.contains(&0) {
            return Ok(Preview::Binary { size });
        }
        Ok(Preview::Text {
            size,
            text: String::from_utf8_lossy(&bytes).into_owned(),
            truncated: size > bytes.len() as u64,
        })
    }
}

#[cfg(test)]
mod tests {
    //! The table-format list against the engine itself: every name ending
    //! it lists is read by `FROM '<path>'`, and the near misses are not.

    use std::sync::Arc;

    use quarry_s3::{Env, S3Stores, TABLE_EXTENSIONS};

    use crate::{engine::MemoryBudget, engine::SessionOptions, engine::SqlSession};

    fn session() -> SqlSession {
        let s3 = Arc::new(S3Stores::from_env(&Env::from_pairs([])));
        let options = SessionOptions {
            memory: MemoryBudget::of(1 << 30),
            target_partitions: Some(1),
            pod: None,
            spill: None,
            catalog: None,
        };
        SqlSession::new(s3, &options).unwrap()
    }

    /// Writes a one-row file for `ending` with DataFusion itself.
    async fn write(session: &SqlSession, dir: &std::path::Path, ending: &str) -> String {
        let path = dir.join(format!("t{ending}")).display().to_string();
        let (format, compression) = match ending.trim_start_matches('.').split_once('.') {
            Some((format, compression)) => (format.to_string(), Some(compression)),
            None => (ending.trim_start_matches('.').to_string(), None),
        };
        let compression = match compression {
            Some("gz") => ", 'format.compression' 'gzip'",
            Some("bz2") => ", 'format.compression' 'bzip2'",
            Some("xz") => ", 'format.compression' 'xz'",
            Some("zst") => ", 'format.compression' 'zstd'",
            _ => "",
        };
        let sql = format!(
            "COPY (SELECT 1 AS one) TO '{path}' STORED AS {format} OPTIONS ('format.has_header' 'true'{compression})",
        );
        let sql = if format == "csv" {
            sql
        } else {
            sql.replace("'format.has_header' 'true', ", "")
                .replace("'format.has_header' 'true'", "")
                .replace(" OPTIONS ()", "")
        };
        session
            .run_cell(&sql, 0, Default::default())
            .await
            .unwrap_or_else(|e| panic!("writing {path}: {e}"));
        path
    }

    #[tokio::test]
    async fn sql_reads_exactly_the_listed_endings() {
        let dir = tempfile::tempdir().unwrap();
        let session = session();
        for (ending, _) in TABLE_EXTENSIONS {
            let path = write(&session, dir.path(), ending).await;
            let sql = format!("SELECT count(*) AS n FROM '{path}'");
            let outcome = session.run_cell(&sql, 1, Default::default()).await;
            let rows = outcome
                .unwrap_or_else(|e| panic!("{ending} is listed but SQL cannot read it: {e}"))
                .result
                .unwrap()
                .total_rows;
            assert_eq!(rows, 1, "{ending}");
        }
        for ending in [".ndjson", ".jsonl", ".avro", ".tsv", ".txt"] {
            assert!(quarry_s3::table_format(&format!("t{ending}")).is_none());
            let path = dir.path().join(format!("t{ending}"));
            std::fs::write(&path, "{\"one\": 1}\n").unwrap();
            let sql = format!("SELECT * FROM '{}'", path.display());
            assert!(
                session.run_cell(&sql, 1, Default::default()).await.is_err(),
                "{ending} is readable by SQL: add it to TABLE_EXTENSIONS"
            );
        }
    }
}
