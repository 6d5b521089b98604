// placeholder until the Rust test writes it
import type { GridAction } from './grid-model';
export type Cell = string | null | object | number | boolean;
export type ColumnKind = "number" | "boolean" | "time" | "nested" | "text";
export type GridColumn = { name: string, type: string, kind: ColumnKind, };
export type FirstPage = { offset: number, rows: Cell[][], };
export type ResultBundle = { version: number, result_id: string | null, columns: Array<GridColumn>, total_rows: number, first_page: FirstPage, note: string | null, };
export type FilterOp = "=" | "!=" | "<" | "<=" | ">" | ">=" | "contains" | "is null" | "is not null";
export type Filter = { column: string, op: FilterOp, value?: string, };
export type SortKey = { column: string, descending: boolean, };
export type PageQuery = { sort: Array<SortKey>, filters: Array<Filter>, offset: number, limit: number, };
export type PageRows = { offset: number, rows: Cell[][], matching_rows: number, total_rows: number, elapsed_ms: number, };
export type PageAnswer = { page?: PageRows, error?: string, gone?: boolean, };
export type ActionsAnswer = { actions?: Record<GridAction, string>, whole?: boolean, error?: string, gone?: boolean, };
