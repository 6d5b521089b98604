/**
 * What the data explorer lists and the cells its menu writes, without any
 * JupyterLab import (unit-tested with node).
 */

/** A kernel table as the `quarry.tables` comm sends it. */
export interface KernelTable {
  schema: string;
  name: string;
  /** `BASE TABLE`, `VIEW`, … from `information_schema`. */
  kind: string;
  columns: [string, string][];
  /** Kept in the user's catalog (every kernel, after restarts), not this kernel's own. */
  kept?: boolean;
}

/** A Spark temporary view. */
export interface SparkView {
  name: string;
  columns: [string, string][];
}

export interface TableListing {
  tables?: KernelTable[];
  spark_views?: SparkView[] | null;
  spark_error?: string;
  error?: string;
}

/** One thing the explorer shows, kernel table or Spark view alike. */
export interface ExplorerItem {
  /** The name as SQL refers to it (qualified and quoted when needed). */
  reference: string;
  label: string;
  kind: 'table' | 'view' | 'spark view';
  engine: 'sql' | 'spark';
  columns: [string, string][];
  /** Where it lives, in words: kept in the catalog or this kernel's only. */
  lives: string;
}

/** The schema unqualified names resolve in. */
const DEFAULT_SCHEMA = 'public';

/** `readings`, `"Sales 2024"`, `staging.events`: how SQL names it. */
export function sqlName(name: string): string {
  return /^[a-z_][a-z0-9_]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

function sparkName(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? name : `\`${name.replace(/`/g, '``')}\``;
}

export function explorerItems(listing: TableListing): ExplorerItem[] {
  const tables = (listing.tables ?? []).map(
    (t): ExplorerItem => ({
      reference: t.schema === DEFAULT_SCHEMA ? sqlName(t.name) : `${sqlName(t.schema)}.${sqlName(t.name)}`,
      label: t.schema === DEFAULT_SCHEMA ? t.name : `${t.schema}.${t.name}`,
      kind: t.kind === 'VIEW' ? 'view' : 'table',
      engine: 'sql',
      columns: t.columns,
      lives: t.kept
        ? 'kept in your catalog: every notebook of yours sees it, after restarts too'
        : 'this kernel only: gone when it restarts'
    })
  );
  const views = (listing.spark_views ?? []).map(
    (v): ExplorerItem => ({
      reference: sparkName(v.name),
      label: v.name,
      kind: 'spark view',
      engine: 'spark',
      columns: v.columns,
      lives: 'a view in this Spark session'
    })
  );
  return [...tables, ...views];
}

export type ExplorerAction = 'select' | 'profile' | 'chart';

/** The cell an explorer menu entry inserts for `item`. */
export function actionCell(item: ExplorerItem, action: ExplorerAction): string {
  const query = `SELECT * FROM ${item.reference}`;
  if (item.engine === 'spark') {
    const spark = `%%spark\n${query}`;
    return action === 'select' ? `${spark} LIMIT 100` : `%${action}\n${spark}`;
  }
  switch (action) {
    case 'select':
      return `${query} LIMIT 100`;
    case 'profile':
      return `%profile ${item.reference}`;
    case 'chart':
      return `%chart\n${query}`;
  }
}
