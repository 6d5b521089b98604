//! The default schema: this kernel's own tables over the user's kept ones.
//!
//! ```text
//!  table(name) ──▶ this kernel's tables (in memory: CREATE TABLE AS, -o …)
//!              └─▶ the catalog file (re-read when it changed) ──▶ LazyTable / view
//! ```
//!
//! A kernel's own table shadows a kept one of the same name (`%%spark -o
//! readings` replaces `readings` in this kernel only). Built providers are
//! remembered with the entry they came from, so a table re-created in
//! another kernel is rebuilt here, and one dropped there is gone here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock, Weak};

use async_trait::async_trait;
use datafusion::catalog::{MemorySchemaProvider, SchemaProvider, TableProvider};
use datafusion::datasource::TableType;
use datafusion::datasource::view::ViewTable;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::session_state::SessionState;

use super::file::{CatalogFile, KeptEntry};
use super::lazy::{LazyTable, UnplannableView};

/// Providers built from kept entries, with the entry each came from.
type Built = HashMap<String, (KeptEntry, Arc<dyn TableProvider>)>;

/// The session's default schema, backed by the user's catalog file.
#[derive(Debug)]
pub(crate) struct KeptSchema {
    own: MemorySchemaProvider,
    catalog: Arc<CatalogFile>,
    built: Mutex<Built>,
    /// To plan a kept view's query when it is used (weak: the state owns
    /// this schema).
    state: RwLock<Weak<parking_lot::RwLock<SessionState>>>,
}

impl KeptSchema {
    pub(crate) fn new(catalog: Arc<CatalogFile>) -> Self {
        KeptSchema {
            own: MemorySchemaProvider::new(),
            catalog,
            built: Mutex::new(HashMap::new()),
            state: RwLock::new(Weak::new()),
        }
    }

    /// Where kept views are planned (set once the context exists).
    pub(crate) fn plan_views_in(&self, state: Weak<parking_lot::RwLock<SessionState>>) {
        *self.state.write().expect("state lock") = state;
    }

    /// Whether `name` is one of this kernel's own tables (not kept).
    pub(crate) fn is_own(&self, name: &str) -> bool {
        self.own.table_exist(name)
    }

    fn kept(&self, name: &str) -> Option<KeptEntry> {
        self.catalog.entries_or_empty().get(name).cloned()
    }

    /// The kept entry for `name`, if any.
    pub(crate) fn entry(&self, name: &str) -> Option<KeptEntry> {
        self.kept(name)
    }

    /// Every kept entry now.
    pub(crate) fn entries(&self) -> Arc<super::file::Entries> {
        self.catalog.entries_or_empty()
    }

    /// The catalog file.
    pub(crate) fn path(&self) -> &std::path::Path {
        self.catalog.path()
    }

    /// Keeps `entry` as `name` for every kernel of the user; the table this
    /// kernel just made stops being its own.
    pub(crate) fn keep(&self, name: &str, entry: KeptEntry) -> Result<(), String> {
        self.catalog
            .update(|entries| {
                entries.insert(name.to_string(), entry.clone());
            })
            .map_err(|e| describe(&e))?;
        if let Ok(Some(provider)) = self.own.deregister_table(name) {
            self.built
                .lock()
                .expect("built lock")
                .insert(name.to_string(), (entry, provider));
        }
        Ok(())
    }

    /// Removes `name` from the catalog, for every kernel of the user.
    pub(crate) fn forget(&self, name: &str) -> Result<(), String> {
        self.built.lock().expect("built lock").remove(name);
        if !self.catalog.entries_or_empty().contains_key(name) {
            return Ok(());
        }
        self.catalog
            .update(|entries| {
                entries.remove(name);
            })
            .map_err(|e| describe(&e))
    }

    async fn provider_for(&self, name: &str, entry: KeptEntry) -> Result<Arc<dyn TableProvider>> {
        if let Some((seen, provider)) = self.built.lock().expect("built lock").get(name)
            && *seen == entry
        {
            return Ok(Arc::clone(provider));
        }
        let provider: Arc<dyn TableProvider> = match &entry {
            KeptEntry::ExternalTable {
                statement,
                schema_ipc,
                ..
            } => {
                let schema = super::columns::decode(schema_ipc).map_err(|e| {
                    DataFusionError::Plan(format!(
                        "the kept columns of table '{name}' are unreadable: {e}"
                    ))
                })?;
                Arc::new(LazyTable::new(name, statement, schema))
            }
            KeptEntry::View { statement } => self.plan_view(name, statement).await,
        };
        self.built
            .lock()
            .expect("built lock")
            .insert(name.to_string(), (entry, Arc::clone(&provider)));
        Ok(provider)
    }

    /// Plans a kept `CREATE VIEW`'s query into the view's table.
    async fn plan_view(&self, name: &str, statement: &str) -> Arc<dyn TableProvider> {
        let state = self.state.read().expect("state lock").upgrade();
        let Some(state) = state else {
            return Arc::new(UnplannableView {
                name: name.to_string(),
                reason: "the session is closing".into(),
            });
        };
        let state = state.read().clone();
        match view_query(&state, statement).await {
            Ok(plan) => Arc::new(ViewTable::new(plan, Some(statement.to_string()))),
            Err(e) => Arc::new(UnplannableView {
                name: name.to_string(),
                reason: crate::engine::error::first_line(&e.to_string()).to_string(),
            }),
        }
    }
}

/// The logical plan of the query inside a `CREATE VIEW … AS query`.
async fn view_query(
    state: &SessionState,
    statement: &str,
) -> Result<datafusion::logical_expr::LogicalPlan> {
    use datafusion::logical_expr::{DdlStatement, LogicalPlan};
    match state.create_logical_plan(statement).await? {
        LogicalPlan::Ddl(DdlStatement::CreateView(view)) => Ok(Arc::unwrap_or_clone(view.input)),
        _ => Err(DataFusionError::Plan(
            "its kept definition is not a CREATE VIEW".into(),
        )),
    }
}

#[async_trait]
impl SchemaProvider for KeptSchema {
    fn table_names(&self) -> Vec<String> {
        let mut names = self.own.table_names();
        for name in self.catalog.entries_or_empty().keys() {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        names
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        if let Some(own) = self.own.table(name).await? {
            return Ok(Some(own));
        }
        match self.kept(name) {
            Some(entry) => self.provider_for(name, entry).await.map(Some),
            None => {
                // Dropped in another kernel: forget what was built here.
                self.built.lock().expect("built lock").remove(name);
                Ok(None)
            }
        }
    }

    async fn table_type(&self, name: &str) -> Result<Option<TableType>> {
        if let Some(own) = self.own.table(name).await? {
            return Ok(Some(own.table_type()));
        }
        // Answered from the file: listing tables asks S3 nothing.
        Ok(self.kept(name).map(|entry| match entry {
            KeptEntry::ExternalTable { .. } => TableType::Base,
            KeptEntry::View { .. } => TableType::View,
        }))
    }

    fn register_table(
        &self,
        name: String,
        table: Arc<dyn TableProvider>,
    ) -> Result<Option<Arc<dyn TableProvider>>> {
        self.own.register_table(name, table)
    }

    fn deregister_table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        if let Some(own) = self.own.deregister_table(name)? {
            return Ok(Some(own));
        }
        // A kept table leaves the catalog when its DROP succeeds (see
        // `ddl`); here it only stops being built in this kernel.
        let built = self.built.lock().expect("built lock").remove(name);
        Ok(built
            .map(|(_, provider)| provider)
            .or_else(|| self.kept(name).map(|_| placeholder(name))))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.own.table_exist(name) || self.kept(name).is_some()
    }
}

fn describe(e: &super::file::CatalogError) -> String {
    match std::error::Error::source(e) {
        Some(source) => format!("{e}: {source}"),
        None => e.to_string(),
    }
}

/// What a deregistered kept table that was never built is returned as.
fn placeholder(name: &str) -> Arc<dyn TableProvider> {
    Arc::new(UnplannableView {
        name: name.to_string(),
        reason: "it was dropped".into(),
    })
}
