// Generated from crates/quarry-sql/src/notebook/results/contract.rs by ts-rs:
// QUARRY_BLESS=1 cargo test --workspace grid_contract rewrites it. Do not edit.

import type { GridAction } from './grid-model';

/** A cell: display text, `null`, or a JSON value for nested columns. */
export type Cell = string | null | object | number | boolean;

export type ColumnKind = "number" | "boolean" | "time" | "nested" | "text";

export type GridColumn = { 
/**
 * The column's name.
 */
name: string, 
/**
 * Arrow's type, e.g. `Int64`, `Timestamp(Microsecond, None)`.
 */
type: string, 
/**
 * How the grid treats it.
 */
kind: ColumnKind, };

export type FirstPage = { 
/**
 * The first row's place in the result (0).
 */
offset: number, 
/**
 * The rows.
 */
rows: Cell[][], };

export type ResultBundle = { 
/**
 * The contract's version (1).
 */
version: number, 
/**
 * `null` when the kernel could not hold the result (see `note`).
 */
result_id: string | null, 
/**
 * The result's columns.
 */
columns: Array<GridColumn>, 
/**
 * Every row of the result.
 */
total_rows: number, 
/**
 * The rows shown first.
 */
first_page: FirstPage, 
/**
 * What the grid should say about these rows, if anything.
 */
note: string | null, };

export type FilterOp = "=" | "!=" | "<" | "<=" | ">" | ">=" | "contains" | "is null" | "is not null";

export type Filter = { 
/**
 * The column's name as the result shows it.
 */
column: string, 
/**
 * The comparison.
 */
op: FilterOp, 
/**
 * The value compared with, as typed (read as the column's type);
 * not used by the null tests.
 */
value?: string, };

export type SortKey = { 
/**
 * The column's name as the result shows it.
 */
column: string, 
/**
 * Largest first.
 */
descending: boolean, };

export type PageQuery = { 
/**
 * Sort keys, most significant first.
 */
sort: Array<SortKey>, 
/**
 * Filters, all of which a row must pass.
 */
filters: Array<Filter>, 
/**
 * The first row (0-based) of the page in the sorted, filtered order.
 */
offset: number, 
/**
 * Rows in the page (at most [`MAX_PAGE_ROWS`]).
 */
limit: number, };

export type PageRows = { 
/**
 * The first row's place in the sorted, filtered order.
 */
offset: number, 
/**
 * The rows.
 */
rows: Cell[][], 
/**
 * Rows the filters leave.
 */
matching_rows: number, 
/**
 * Rows in the whole result.
 */
total_rows: number, 
/**
 * Kernel-side time to compute the page, for the grid's status line
 * and for benchmarks.
 */
elapsed_ms: number, };

export type PageAnswer = { 
/**
 * The page.
 */
page?: PageRows, 
/**
 * Why there is no page.
 */
error?: string, 
/**
 * Whether the result is gone.
 */
gone?: boolean, };

export type ActionsAnswer = { 
/**
 * Each button's cell, by the button's name.
 */
actions?: Record<GridAction, string>, 
/**
 * Whether the view is the whole result.
 */
whole?: boolean, 
/**
 * Why there are no actions.
 */
error?: string, 
/**
 * Whether the result is gone.
 */
gone?: boolean, };
