//! What a statement changes in the catalog, decided from its plan, and
//! applied once the statement succeeded.

use datafusion::common::TableReference;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{DdlStatement, LogicalPlan};

use super::file::KeptEntry;
use crate::engine::SqlSession;

/// A statement's effect on the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CatalogChange {
    /// `CREATE [OR REPLACE] EXTERNAL TABLE` in the default schema.
    KeepTable {
        name: String,
        statement: String,
        location: String,
        format: String,
        replace: bool,
        if_not_exists: bool,
    },
    /// `CREATE [OR REPLACE] VIEW` in the default schema.
    KeepView {
        name: String,
        statement: String,
        replace: bool,
    },
    /// `DROP TABLE` / `DROP VIEW`.
    Forget { name: String },
}

/// Only the default schema's tables are kept (`public`, unqualified).
fn kept_name(name: &TableReference) -> Option<String> {
    let default_schema = name.schema().is_none_or(|s| s == "public");
    let default_catalog = name.catalog().is_none_or(|c| c == "datafusion");
    (default_schema && default_catalog).then(|| name.table().to_string())
}

/// Runs a statement the catalog keeps: nothing when it is already done,
/// else `run`, then the change written to the catalog file.
pub(crate) async fn run_change<T>(
    session: &SqlSession,
    change: CatalogChange,
    run: impl Future<Output = Result<Option<T>, DataFusionError>>,
) -> Result<Option<T>, DataFusionError> {
    if already_done(session, &change)? {
        return Ok(None);
    }
    let result = run.await?;
    apply(session, change).await?;
    Ok(result)
}

/// What `plan` would change, if it is a statement the catalog keeps.
pub(crate) fn change_for(plan: &LogicalPlan) -> Option<CatalogChange> {
    let LogicalPlan::Ddl(ddl) = plan else {
        return None;
    };
    match ddl {
        DdlStatement::CreateExternalTable(create) if !create.temporary => {
            Some(CatalogChange::KeepTable {
                name: kept_name(&create.name)?,
                statement: create.definition.clone()?,
                location: create.locations.join(", "),
                format: create.file_type.to_uppercase(),
                replace: create.or_replace,
                if_not_exists: create.if_not_exists,
            })
        }
        DdlStatement::CreateView(view) if !view.temporary => Some(CatalogChange::KeepView {
            name: kept_name(&view.name)?,
            statement: view.definition.clone()?,
            replace: view.or_replace,
        }),
        DdlStatement::DropTable(drop) => Some(CatalogChange::Forget {
            name: kept_name(&drop.name)?,
        }),
        DdlStatement::DropView(drop) => Some(CatalogChange::Forget {
            name: kept_name(&drop.name)?,
        }),
        _ => None,
    }
}

/// Before the statement runs: re-running the very `CREATE EXTERNAL TABLE`
/// or `CREATE VIEW` that made a kept table does nothing (a notebook run
/// again from the top after a restart), and creating a kept name anew
/// says what to do. `Ok(true)` means the statement is already done.
pub(crate) fn already_done(
    session: &SqlSession,
    change: &CatalogChange,
) -> Result<bool, DataFusionError> {
    let Some(kept) = session.kept_schema() else {
        return Ok(false);
    };
    let (name, statement, how) = match change {
        CatalogChange::KeepTable {
            name,
            statement,
            replace: false,
            if_not_exists: false,
            ..
        } => (name, statement, "TABLE"),
        CatalogChange::KeepView {
            name,
            statement,
            replace: false,
        } => (name, statement, "VIEW"),
        _ => return Ok(false),
    };
    if kept.is_own(name) {
        return Ok(false);
    }
    let (drop, create) = match how {
        "VIEW" => ("DROP VIEW", "CREATE OR REPLACE VIEW"),
        _ => ("DROP TABLE", "CREATE OR REPLACE EXTERNAL TABLE"),
    };
    match kept.entry(name) {
        None => Ok(false),
        Some(entry) if entry.statement() == statement => Ok(true),
        Some(_) => Err(DataFusionError::Plan(format!(
            "'{name}' is already kept in your catalog with another definition: {drop} {name} first, or write {create} {name}"
        ))),
    }
}

/// After the statement succeeded: writes the change to the catalog file.
/// A table just created moves from this kernel's own tables to the kept
/// ones, so a DROP in another kernel reaches it here too. When the file
/// cannot be written the user is told, in one sentence, that the table
/// lasts only as long as this kernel.
pub(crate) async fn apply(
    session: &SqlSession,
    change: CatalogChange,
) -> Result<(), DataFusionError> {
    let Some(kept) = session.kept_schema() else {
        return Ok(());
    };
    let name = match &change {
        CatalogChange::KeepTable { name, .. }
        | CatalogChange::KeepView { name, .. }
        | CatalogChange::Forget { name } => name.clone(),
    };
    let forgetting = matches!(change, CatalogChange::Forget { .. });
    let result = match change {
        CatalogChange::KeepTable {
            name,
            statement,
            location,
            format,
            ..
        } => match kept_columns(session, &name).await {
            Ok(schema_ipc) => kept.keep(
                &name,
                KeptEntry::ExternalTable {
                    statement,
                    location,
                    format,
                    schema_ipc,
                },
            ),
            Err(e) => Err(e),
        },
        CatalogChange::KeepView {
            name, statement, ..
        } => kept.keep(&name, KeptEntry::View { statement }),
        CatalogChange::Forget { name } => kept.forget(&name),
    };
    result.map_err(|e| {
        let outcome = if forgetting {
            format!("'{name}' was dropped in this kernel but is still kept in your catalog")
        } else {
            format!("'{name}' was created in this kernel but could not be kept in your catalog, so it lasts until the kernel restarts")
        };
        DataFusionError::Execution(format!("{outcome} ({e})"))
    })
}

async fn kept_columns(session: &SqlSession, name: &str) -> Result<String, String> {
    let table = session
        .context()
        .table_provider(name)
        .await
        .map_err(|e| e.to_string())?;
    super::columns::encode(&table.schema()).map_err(|e| e.to_string())
}
