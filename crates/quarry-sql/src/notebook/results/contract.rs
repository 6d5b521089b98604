//! The grid's contract with the labextension, as Rust types: the result
//! bundle (`application/vnd.quarry.result+json`) and the `quarry.results`
//! comm's requests ([`PageRequest`](super::PageRequest), its sort keys and
//! filters) and answers. The TypeScript the grid compiles against,
//! `labextension/src/notebook/contract.ts`, is generated from these types
//! (ts-rs) and a test fails when the two differ (`QUARRY_BLESS=1 cargo
//! test --workspace grid_contract` rewrites it).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use ts_rs::TS;

/// The grid's kind for a column: how it aligns, filters and sorts.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, TS)]
#[serde(rename_all = "lowercase")]
pub enum ColumnKind {
    /// Integers, floats, decimals.
    Number,
    /// `true`/`false`.
    Boolean,
    /// Dates, times, timestamps, durations, intervals.
    Time,
    /// Lists, structs, maps (cells are JSON).
    Nested,
    /// Anything else, shown as text.
    Text,
}

/// A column as the kernel describes it.
#[derive(Debug, Clone, Serialize, TS)]
pub struct GridColumn {
    /// The column's name.
    pub name: String,
    /// Arrow's type, e.g. `Int64`, `Timestamp(Microsecond, None)`.
    #[serde(rename = "type")]
    pub data_type: String,
    /// How the grid treats it.
    pub kind: ColumnKind,
}

/// Rows at an offset: each a list of cells (display text, `null`, or a
/// JSON value for nested columns).
#[derive(Debug, Clone, Serialize, TS)]
pub struct FirstPage {
    /// The first row's place in the result (0).
    #[ts(type = "number")]
    pub offset: u64,
    /// The rows.
    #[ts(type = "Cell[][]")]
    pub rows: Vec<Value>,
}

/// `application/vnd.quarry.result+json`.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(rename = "ResultBundle")]
pub struct ResultBundleJson {
    /// The contract's version (1).
    pub version: u32,
    /// `null` when the kernel could not hold the result (see `note`).
    pub result_id: Option<String>,
    /// The result's columns.
    pub columns: Vec<GridColumn>,
    /// Every row of the result.
    #[ts(type = "number")]
    pub total_rows: u64,
    /// The rows shown first.
    pub first_page: FirstPage,
    /// What the grid should say about these rows, if anything.
    pub note: Option<String>,
}

/// One page of a held result, as the comm answers it.
#[derive(Debug, Clone, Serialize, TS)]
pub struct PageRows {
    /// The first row's place in the sorted, filtered order.
    #[ts(type = "number")]
    pub offset: u64,
    /// The rows.
    #[ts(type = "Cell[][]")]
    pub rows: Vec<Value>,
    /// Rows the filters leave.
    #[ts(type = "number")]
    pub matching_rows: u64,
    /// Rows in the whole result.
    #[ts(type = "number")]
    pub total_rows: u64,
    /// Kernel-side time to compute the page, for the grid's status line
    /// and for benchmarks.
    pub elapsed_ms: f64,
}

/// The kernel's answer to a `page` request: the page, or why not (`gone`:
/// the result is no longer held).
#[derive(Debug, Clone, Serialize, TS)]
pub struct PageAnswer {
    /// The request's `seq`, echoed (the comm layer reads it).
    #[ts(skip)]
    pub seq: Value,
    /// The page.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub page: Option<PageRows>,
    /// Why there is no page.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub error: Option<String>,
    /// Whether the result is gone.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub gone: Option<bool>,
}

/// The kernel's answer to an `actions` request: the cells the grid's
/// buttons insert for its current view (`whole`: no filter narrows it).
#[derive(Debug, Clone, Serialize, TS)]
pub struct ActionsAnswer {
    /// The request's `seq`, echoed.
    #[ts(skip)]
    pub seq: Value,
    /// Each button's cell, by the button's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "Record<GridAction, string>")]
    pub actions: Option<BTreeMap<String, String>>,
    /// Whether the view is the whole result.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub whole: Option<bool>,
    /// Why there are no actions.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub error: Option<String>,
    /// Whether the result is gone.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub gone: Option<bool>,
}

impl PageAnswer {
    /// A failed request's answer.
    pub fn failed(seq: Value, error: String, gone: bool) -> Self {
        PageAnswer {
            seq,
            page: None,
            error: Some(error),
            gone: Some(gone),
        }
    }
}

impl ActionsAnswer {
    /// A failed request's answer.
    pub fn failed(seq: Value, error: String, gone: bool) -> Self {
        ActionsAnswer {
            seq,
            actions: None,
            whole: None,
            error: Some(error),
            gone: Some(gone),
        }
    }
}

/// The TypeScript of the contract, as `contract.ts` holds it.
#[cfg(test)]
fn typescript() -> String {
    use super::{Filter, FilterOp, PageRequest, SortKey};
    let cfg = ts_rs::Config::default();
    let declarations = [
        ColumnKind::decl(&cfg),
        GridColumn::decl(&cfg),
        FirstPage::decl(&cfg),
        ResultBundleJson::decl(&cfg),
        FilterOp::decl(&cfg),
        Filter::decl(&cfg),
        SortKey::decl(&cfg),
        PageRequest::decl(&cfg),
        PageRows::decl(&cfg),
        PageAnswer::decl(&cfg),
        ActionsAnswer::decl(&cfg),
    ];
    let mut text = String::from(
        "// Generated from crates/quarry-sql/src/notebook/results/contract.rs by ts-rs:\n\
         // QUARRY_BLESS=1 cargo test --workspace grid_contract rewrites it. Do not edit.\n\n\
         import type { GridAction } from './grid-model';\n\n\
         /** A cell: display text, `null`, or a JSON value for nested columns. */\n\
         export type Cell = string | null | object | number | boolean;\n",
    );
    for declaration in declarations {
        text.push_str(&format!("\nexport {declaration}\n"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grid_contract_typescript_is_generated_from_these_types() {
        quarry_testkit::generated::assert_generated(
            "labextension/src/notebook/contract.ts",
            &typescript(),
            "cargo test --workspace grid_contract",
        );
    }
}
