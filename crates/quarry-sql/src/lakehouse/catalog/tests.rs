//! The catalog across sessions sharing one file, with local files (the
//! S3 side is tested end to end in tests/test_catalog.py).

use std::sync::Arc;

use quarry_s3::{Env, S3Stores};

use super::file::{CatalogFile, KeptEntry};
use crate::{engine::MemoryBudget, engine::SessionOptions, engine::SqlSession};

fn session(catalog: &std::path::Path) -> SqlSession {
    let s3 = Arc::new(S3Stores::from_env(&Env::from_pairs([])));
    SqlSession::new(
        s3,
        &SessionOptions {
            memory: MemoryBudget::of(256 << 20),
            target_partitions: Some(1),
            pod: None,
            spill: None,
            catalog: Some(catalog.to_path_buf()),
        },
    )
    .unwrap()
}

async fn run(session: &SqlSession, sql: &str) -> Result<Vec<String>, String> {
    let outcome = session
        .run_cell(sql, 100, Arc::default())
        .await
        .map_err(|e| e.message)?;
    Ok(outcome
        .result
        .map(|r| {
            datafusion::arrow::util::pretty::pretty_format_batches(&r.batches)
                .unwrap()
                .to_string()
                .lines()
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default())
}

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("sales.csv"),
            "site,amount\nnorth,3\nsouth,4\n",
        )
        .unwrap();
        Fixture { dir }
    }
    fn catalog(&self) -> std::path::PathBuf {
        self.dir.path().join("catalog.json")
    }
    fn create_sales(&self) -> String {
        format!(
            "CREATE EXTERNAL TABLE sales STORED AS CSV LOCATION '{}' OPTIONS ('format.has_header' 'true')",
            self.dir.path().join("sales.csv").display()
        )
    }
}

#[tokio::test]
async fn a_table_made_in_one_session_is_there_in_another_and_after_a_restart() {
    let f = Fixture::new();
    let first = session(&f.catalog());
    let second = session(&f.catalog());
    run(&first, &f.create_sales()).await.unwrap();
    let total = run(&second, "SELECT sum(amount) AS total FROM sales")
        .await
        .unwrap();
    assert!(total.iter().any(|l| l.contains(" 7 ")), "{total:?}");
    drop(first);
    let restarted = session(&f.catalog());
    assert!(restarted.table_names().contains(&"sales".to_string()));
    assert!(!restarted.is_kernel_table("sales"));
    let kept = restarted.kept_tables();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].format.as_deref(), Some("CSV"));
}

#[tokio::test]
async fn running_the_same_create_again_is_a_no_op_and_another_definition_is_refused() {
    let f = Fixture::new();
    let first = session(&f.catalog());
    run(&first, &f.create_sales()).await.unwrap();
    let restarted = session(&f.catalog());
    run(&restarted, &f.create_sales()).await.unwrap();
    let other = f
        .create_sales()
        .replace("STORED AS CSV", "STORED AS CSV PARTITIONED BY (site)");
    let refused = run(&restarted, &other.replace("sales.csv", ""))
        .await
        .unwrap_err();
    assert!(
        refused.contains("'sales' is already kept in your catalog with another definition: DROP TABLE sales first"),
        "{refused}"
    );
    let replaced = f
        .create_sales()
        .replace("CREATE EXTERNAL", "CREATE OR REPLACE EXTERNAL");
    run(&restarted, &replaced).await.unwrap();
}

#[tokio::test]
async fn a_drop_in_one_session_is_a_drop_everywhere() {
    let f = Fixture::new();
    let first = session(&f.catalog());
    let second = session(&f.catalog());
    run(&first, &f.create_sales()).await.unwrap();
    run(&second, "SELECT count(*) FROM sales").await.unwrap();
    run(&first, "DROP TABLE sales").await.unwrap();
    let missing = run(&second, "SELECT count(*) FROM sales")
        .await
        .unwrap_err();
    assert!(missing.contains("'sales' does not exist"), "{missing}");
    assert!(session(&f.catalog()).kept_tables().is_empty());
}

#[tokio::test]
async fn views_are_kept_and_memory_tables_stay_the_kernels_own() {
    let f = Fixture::new();
    let first = session(&f.catalog());
    run(&first, &f.create_sales()).await.unwrap();
    run(
        &first,
        "CREATE VIEW big AS SELECT site FROM sales WHERE amount > 3",
    )
    .await
    .unwrap();
    run(&first, "CREATE TABLE scratch AS SELECT 1 AS x")
        .await
        .unwrap();
    assert!(first.is_kernel_table("scratch"));
    let second = session(&f.catalog());
    let rows = run(&second, "SELECT site FROM big").await.unwrap();
    assert!(rows.iter().any(|l| l.contains("south")), "{rows:?}");
    assert!(!second.table_names().contains(&"scratch".to_string()));
    // The table under the view is dropped: the view still lists and
    // drops, and using it says why it fails.
    run(&second, "DROP TABLE sales").await.unwrap();
    let third = session(&f.catalog());
    let broken = run(&third, "SELECT * FROM big").await.unwrap_err();
    assert!(broken.contains("no longer plans"), "{broken}");
    run(&third, "DROP VIEW big").await.unwrap();
    assert!(third.kept_tables().is_empty());
}

#[tokio::test]
async fn a_kept_table_is_not_read_until_used() {
    let f = Fixture::new();
    run(&session(&f.catalog()), &f.create_sales())
        .await
        .unwrap();
    // Its file goes away: listing, DESCRIBE-free planning and DROP work
    // from the kept columns alone; only a scan needs the file.
    std::fs::remove_file(f.dir.path().join("sales.csv")).unwrap();
    let later = session(&f.catalog());
    assert!(later.table_names().contains(&"sales".to_string()));
    run(&later, "SELECT table_name FROM information_schema.tables")
        .await
        .unwrap();
    assert!(run(&later, "SELECT * FROM sales").await.is_err());
    run(&later, "DROP TABLE sales").await.unwrap();
}

#[test]
fn writers_at_the_same_moment_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalog.json");
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let path = path.clone();
            std::thread::spawn(move || {
                // Each writer its own CatalogFile, as each kernel has.
                let file = CatalogFile::new(path);
                for i in 0..25 {
                    file.update(|entries| {
                        entries.insert(
                            format!("t{t}_{i}"),
                            KeptEntry::View {
                                statement: format!("CREATE VIEW t{t}_{i} AS SELECT {i}"),
                            },
                        );
                    })
                    .unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(CatalogFile::new(path).entries().unwrap().len(), 200);
}

#[tokio::test]
async fn a_catalog_that_cannot_be_written_says_the_table_lasts_only_here() {
    let f = Fixture::new();
    // The catalog's folder would be inside a file: it cannot be created.
    let blocked = f.dir.path().join("sales.csv").join("catalog.json");
    let session = session(&blocked);
    let message = run(&session, &f.create_sales()).await.unwrap_err();
    assert!(
        message.starts_with("'sales' was created in this kernel but could not be kept in your catalog, so it lasts until the kernel restarts (could not use your table catalog"),
        "{message}"
    );
    // It is there for this kernel all the same.
    assert!(run(&session, "SELECT count(*) FROM sales").await.is_ok());
}
