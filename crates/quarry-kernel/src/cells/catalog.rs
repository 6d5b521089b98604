//! `%catalog`: the user's kept tables and views, and this kernel's own.

use super::{QuarryHandler, display};
use crate::protocol::{ExecuteError, Outputs};

/// Lists what the catalog keeps (every kernel of the user sees it, after
/// restarts too) and the tables that live in this kernel only.
pub(super) fn show(handler: &QuarryHandler, outputs: &Outputs) -> Result<(), ExecuteError> {
    let session = &handler.session;
    let Some(path) = session.catalog_path() else {
        outputs.stdout("This kernel keeps no catalog: its tables last as long as it does.\n");
        return Ok(());
    };
    let kept = session.kept_tables();
    let own: Vec<String> = session
        .table_names()
        .into_iter()
        .filter(|name| !name.contains('.') && session.is_kernel_table(name))
        .collect();
    let mut text = format!("Catalog {} ({} kept)\n", path.display(), kept.len());
    let mut markdown = format!(
        "**Catalog** `{}`: {} kept — every kernel of yours sees these, after restarts too.\n\n",
        path.display(),
        kept.len()
    );
    if !kept.is_empty() {
        markdown.push_str("| name | kind | format | location |\n|---|---|---|---|\n");
        for table in &kept {
            let format = table.format.as_deref().unwrap_or("");
            let location = table.location.as_deref().unwrap_or("");
            text.push_str(&format!(
                "  {}  {}  {format}  {location}\n",
                table.name, table.kind
            ));
            markdown.push_str(&format!(
                "| {} | {} | {format} | {location} |\n",
                table.name, table.kind
            ));
        }
    }
    if own.is_empty() {
        text.push_str("No tables in this kernel only.\n");
        markdown.push_str("\nNo tables in this kernel only.\n");
    } else {
        let list = own.join(", ");
        text.push_str(&format!("In this kernel only (in memory): {list}\n"));
        markdown.push_str(&format!(
            "\n**In this kernel only** (in memory, gone at restart): {list}\n"
        ));
    }
    outputs.display(display::text_and_markdown(&text, &markdown), None);
    Ok(())
}
