//! The user's catalog: external tables and views that outlive a kernel.
//!
//! ```text
//!  CREATE EXTERNAL TABLE / CREATE VIEW / DROP ──(succeeded)──▶ ddl::apply ──▶ file (flock + rename)
//!                                                                               │ re-read on change
//!  every kernel of the user: default schema = KeptSchema ◀──────────────────────┘
//!        own tables (memory, this kernel only) over kept ones (LazyTable: no S3 until scanned)
//! ```
//!
//! A table created in one notebook is usable in another at once and after
//! a restart; a dropped one is gone everywhere. Tables in memory (`CREATE
//! TABLE … AS`, `%%spark -o`) stay this kernel's own. Only the default
//! schema is kept; the file is `QUARRY_CATALOG` (default
//! `~/.local/share/quarry/catalog.json`, on the home volume).

mod columns;
pub(crate) mod ddl;
mod file;
mod lazy;
mod schema;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use file::CatalogError;
pub(crate) use schema::KeptSchema;

use crate::engine::SqlSession;

/// Where the catalog is kept unless `QUARRY_CATALOG` says: the home volume,
/// which outlives the pod.
pub fn default_catalog_path(home: &Path) -> PathBuf {
    home.join(".local/share/quarry/catalog.json")
}

/// Makes the catalog file at `path` the default schema of `ctx` (its
/// own tables stay in memory inside it).
pub(crate) fn install(ctx: &datafusion::prelude::SessionContext, path: &Path) -> Arc<KeptSchema> {
    let kept = Arc::new(KeptSchema::new(Arc::new(file::CatalogFile::new(
        path.to_path_buf(),
    ))));
    kept.plan_views_in(ctx.state_weak_ref());
    let schema: Arc<dyn datafusion::catalog::SchemaProvider> = kept.clone();
    if let Some(catalog) = ctx.catalog("datafusion") {
        let _ = catalog.register_schema("public", schema);
    }
    kept
}

/// A kept table or view, as `%catalog` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptTable {
    /// Its name in the default schema.
    pub name: String,
    /// `table` or `view`.
    pub kind: &'static str,
    /// Where its files are (tables).
    pub location: Option<String>,
    /// PARQUET, CSV, JSON… (tables).
    pub format: Option<String>,
    /// The statement that made it.
    pub statement: String,
    /// A view's query (the part after `AS`), as SQL.
    pub query: Option<String>,
}

/// The query of a `CREATE VIEW … AS query` statement.
fn view_query_text(statement: &str) -> Option<String> {
    use datafusion::sql::parser::{DFParser, Statement};
    use datafusion::sql::sqlparser::ast::Statement as Sql;
    let parsed = DFParser::parse_sql(statement).ok()?;
    match parsed.front()? {
        Statement::Statement(sql) => match sql.as_ref() {
            Sql::CreateView(view) => Some(view.query.to_string()),
            _ => None,
        },
        _ => None,
    }
}

/// The folder of a kept `CREATE EXTERNAL TABLE … STORED AS DELTATABLE`;
/// `None` for any other statement.
pub(crate) fn kept_delta_location(statement: &str) -> Option<String> {
    use datafusion::sql::parser::{DFParser, Statement};
    match DFParser::parse_sql(statement).ok()?.pop_front()? {
        Statement::CreateExternalTable(create)
            if create
                .file_type
                .eq_ignore_ascii_case(crate::lakehouse::delta::DELTA_FILE_TYPE) =>
        {
            create.locations.into_iter().next()
        }
        _ => None,
    }
}

impl SqlSession {
    /// The user's kept tables and views, by name; empty without a catalog.
    pub fn kept_tables(&self) -> Vec<KeptTable> {
        let Some(kept) = self.kept_schema() else {
            return Vec::new();
        };
        kept.entries()
            .iter()
            .map(|(name, entry)| match entry {
                file::KeptEntry::ExternalTable {
                    statement,
                    location,
                    format,
                    ..
                } => KeptTable {
                    name: name.clone(),
                    kind: "table",
                    location: Some(location.clone()),
                    format: Some(format.clone()),
                    statement: statement.clone(),
                    query: None,
                },
                file::KeptEntry::View { statement } => KeptTable {
                    name: name.clone(),
                    kind: "view",
                    location: None,
                    format: None,
                    statement: statement.clone(),
                    query: view_query_text(statement),
                },
            })
            .collect()
    }

    /// The catalog file, when this session keeps tables.
    pub fn catalog_path(&self) -> Option<&Path> {
        self.kept_schema().map(|kept| kept.path())
    }

    /// Whether `name` is one of this kernel's own tables (in memory, not
    /// kept): what `%catalog` and the explorer label "this kernel only".
    pub fn is_kernel_table(&self, name: &str) -> bool {
        match self.kept_schema() {
            Some(kept) => kept.is_own(name),
            None => true,
        }
    }
}

#[cfg(test)]
mod tests;
