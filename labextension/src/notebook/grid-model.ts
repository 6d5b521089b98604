/**
 * The result grid's state and formats, without any JupyterLab import
 * (unit-tested with node): the bundle the kernel sends, the requests the
 * grid makes of the `quarry.results` comm, the filter syntax typed under a
 * column header, the sort cycle, and copying rows as CSV or Markdown.
 */

import type {
  ActionsAnswer,
  Cell,
  Filter,
  FilterOp,
  GridColumn,
  PageAnswer,
  PageQuery,
  ResultBundle,
  SortKey
} from './contract';

/*
 * The kernel's side of the contract — the bundle, the page and actions
 * answers, the page query, filters and sort keys — is generated from the
 * Rust types in `./contract` (crates/quarry-sql/src/notebook/results/contract.rs);
 * the grid's own types are below.
 */
export type {
  ActionsAnswer,
  Cell,
  Filter,
  FilterOp,
  GridColumn,
  PageAnswer,
  PageQuery,
  ResultBundle,
  SortKey
};

/** The grid's buttons, in the order they are drawn. */
export const GRID_ACTIONS = ['chart', 'profile', 'export'] as const;
export type GridAction = (typeof GRID_ACTIONS)[number];

/** The rows per page in paged mode (the kernel's first page is as long). */
export const PAGE_SIZE = 100;

/**
 * Reads what a user typed under a column header: `= x`, `!= 3`, `> 5`,
 * `<= 2024-01-01`, `contains ab`, `is null`, `is not null`; bare text means
 * "contains" (and for number columns "="). Quotes around the value are
 * dropped. Empty text is no filter.
 */
export function parseFilter(column: GridColumn, text: string): Filter | null {
  const typed = text.trim();
  if (!typed) {
    return null;
  }
  const lower = typed.toLowerCase();
  if (lower === 'is null' || lower === 'null') {
    return { column: column.name, op: 'is null' };
  }
  if (lower === 'is not null' || lower === 'not null') {
    return { column: column.name, op: 'is not null' };
  }
  const compared = /^(!=|<>|<=|>=|=|<|>)\s*(.*)$/s.exec(typed);
  if (compared) {
    const op = (compared[1] === '<>' ? '!=' : compared[1]) as FilterOp;
    return { column: column.name, op, value: unquote(compared[2]) };
  }
  const contains = /^contains\s+(.*)$/is.exec(typed);
  if (contains) {
    return { column: column.name, op: 'contains', value: unquote(contains[1]) };
  }
  const op: FilterOp = column.kind === 'number' ? '=' : 'contains';
  return { column: column.name, op, value: unquote(typed) };
}

function unquote(value: string): string {
  const v = value.trim();
  const quoted = /^(['"])(.*)\1$/s.exec(v);
  return quoted ? quoted[2] : v;
}

/** A filter written back as the text `parseFilter` reads. */
export function describeFilter(filter: Filter): string {
  return filter.value === undefined ? filter.op : `${filter.op} ${filter.value}`;
}

/** Clicking a header: ascending, then descending, then unsorted. */
export function nextSort(current: SortKey[], column: string): SortKey[] {
  const key = current.find(k => k.column === column);
  if (!key) {
    return [{ column, descending: false }];
  }
  if (!key.descending) {
    return [{ column, descending: true }];
  }
  return [];
}

/** How a cell reads in the grid and when copied. */
export function cellText(cell: Cell): string {
  if (cell === null || cell === undefined) {
    return 'NULL';
  }
  if (typeof cell === 'object') {
    return JSON.stringify(cell);
  }
  return String(cell);
}

/** Rows as CSV (RFC 4180: quoted when needed, empty for NULL). */
export function toCsv(columns: GridColumn[], rows: Cell[][]): string {
  const field = (text: string) => (/[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text);
  const lines = [columns.map(c => field(c.name)).join(',')];
  for (const row of rows) {
    lines.push(row.map(cell => (cell === null ? '' : field(cellText(cell)))).join(','));
  }
  return lines.join('\r\n') + '\r\n';
}

/** Rows as a Markdown table (pipes escaped, newlines as spaces). */
export function toMarkdown(columns: GridColumn[], rows: Cell[][]): string {
  const field = (text: string) => text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
  const header = `| ${columns.map(c => field(c.name)).join(' | ')} |`;
  const rule = `| ${columns.map(c => (c.kind === 'number' ? '---:' : '---')).join(' | ')} |`;
  const body = rows.map(row => `| ${row.map(cell => field(cellText(cell))).join(' | ')} |`);
  return [header, rule, ...body].join('\n') + '\n';
}

/** `1234567` → `1,234,567`. */
export function groupThousands(n: number): string {
  return n.toLocaleString('en-US');
}

/** "Rows 201–300 of 1,000,000" (or "of 333 matching 1,000,000"). */
export function rowRange(offset: number, shown: number, matching: number, total: number): string {
  if (matching === 0) {
    return total === 0 ? 'No rows' : `No rows match (of ${groupThousands(total)})`;
  }
  const range = `Rows ${groupThousands(offset + 1)}–${groupThousands(offset + shown)}`;
  return matching === total
    ? `${range} of ${groupThousands(total)}`
    : `${range} of ${groupThousands(matching)} matching (${groupThousands(total)} in all)`;
}

/**
 * Which rows a scroll position shows in "show all" mode. Browsers cap an
 * element's height (Chromium near 33 M px), so a 10 M-row result cannot be
 * one row per 24 px: the scroll range is mapped onto the rows instead.
 */
export function visibleWindow(
  scrollTop: number,
  viewportHeight: number,
  rowHeight: number,
  rows: number,
  maxSpacer = 8_000_000
): { first: number; count: number; spacer: number } {
  const count = Math.max(1, Math.ceil(viewportHeight / rowHeight) + 1);
  const spacer = Math.min(rows * rowHeight, maxSpacer);
  const maxScroll = Math.max(1, spacer - viewportHeight);
  const lastFirst = Math.max(0, rows - count + 1);
  const first = Math.min(lastFirst, Math.max(0, Math.round((scrollTop / maxScroll) * lastFirst)));
  return { first, count: Math.min(count, rows - first), spacer };
}
