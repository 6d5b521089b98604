//! `%catalog`: the user's kept tables and views, and this kernel's own.

use quarry_text::markup::{Cell, HtmlTable};

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
    let mut table = HtmlTable::new([
        ("name", Cell::Code),
        ("kind", Cell::Text),
        ("format", Cell::Text),
        ("location", Cell::Code),
    ])
    .caption(format!(
        "Catalog {}: {} kept — every kernel of yours sees these, after restarts too.",
        path.display(),
        kept.len()
    ));
    for kept_table in &kept {
        let format = kept_table.format.as_deref().unwrap_or("");
        let location = kept_table.location.as_deref().unwrap_or("");
        text.push_str(&format!(
            "  {}  {}  {format}  {location}\n",
            kept_table.name, kept_table.kind
        ));
        table.row([kept_table.name.as_str(), kept_table.kind, format, location]);
    }
    let own_line = if own.is_empty() {
        text.push_str("No tables in this kernel only.\n");
        "No tables in this kernel only.".to_string()
    } else {
        let list = own.join(", ");
        text.push_str(&format!("In this kernel only (in memory): {list}\n"));
        format!("In this kernel only (in memory, gone at restart): {list}")
    };
    outputs.display(
        display::text_and_html(&text, table.footer(own_line).to_html()),
        None,
    );
    Ok(())
}
