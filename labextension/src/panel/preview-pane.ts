/**
 * The S3 panel's preview pane: what the selected object holds, without
 * opening it — a Parquet file's rows, row groups and column statistics
 * from its footer, the first rows of any table file, the head of a text —
 * with "Query in Notebook" and "Profile" for the files SQL reads.
 */

import { Widget } from '@lumino/widgets';

import { Preview, QuarryApi } from './api';
import { humanBytes } from './chunks';
import * as paths from './paths';

/** Rows of the first-rows table the pane shows (the backend sends up to 50). */
const ROWS_SHOWN = 20;

export interface PreviewActions {
  query(url: string): void;
  profile(url: string): void;
}

export class PreviewPane extends Widget {
  private path: string | null = null;
  private seq = 0;

  constructor(
    private readonly api: QuarryApi,
    private readonly actions: PreviewActions
  ) {
    super();
    this.addClass('quarry-Preview');
    this.hide();
  }

  /** Shows `path` (a drive path of an object), or hides for `null`. */
  async showObject(path: string | null): Promise<void> {
    if (path === this.path) {
      return;
    }
    this.path = path;
    const seq = ++this.seq;
    if (!path) {
      this.hide();
      return;
    }
    super.show();
    const { bucket, key } = paths.parse(path);
    this.node.dataset.path = path;
    this.node.dataset.loading = 'true';
    this.node.replaceChildren(this.heading(path, null));
    try {
      const preview = await this.api.preview(bucket, key);
      if (seq === this.seq) {
        this.node.replaceChildren(this.heading(path, preview), ...this.body(preview));
      }
    } catch (error) {
      if (seq === this.seq) {
        const message = document.createElement('div');
        message.className = 'quarry-Preview-error';
        message.textContent = error instanceof Error ? error.message : String(error);
        this.node.replaceChildren(this.heading(path, null), message);
      }
    } finally {
      if (seq === this.seq) {
        delete this.node.dataset.loading;
      }
    }
  }

  private heading(path: string, preview: Preview | null): HTMLElement {
    const head = document.createElement('div');
    head.className = 'quarry-Preview-heading';
    const name = document.createElement('span');
    name.className = 'quarry-Preview-name';
    name.textContent = paths.basename(path);
    name.title = paths.toS3Url(path);
    head.appendChild(name);
    if (preview) {
      const size = document.createElement('span');
      size.className = 'quarry-Preview-size';
      size.textContent = humanBytes(preview.size);
      head.appendChild(size);
    }
    if (paths.isQueryable(path)) {
      const url = paths.toS3Url(path);
      head.append(
        this.button('query', 'Query in Notebook', () => this.actions.query(url)),
        this.button('profile', 'Profile', () => this.actions.profile(url))
      );
    }
    const close = this.button('close', '×', () => void this.showObject(null));
    close.title = 'Close the preview';
    head.appendChild(close);
    return head;
  }

  private button(action: string, text: string, onClick: () => void): HTMLButtonElement {
    const button = document.createElement('button');
    button.className = 'quarry-Preview-button';
    button.dataset.action = action;
    button.textContent = text;
    button.addEventListener('click', onClick);
    return button;
  }

  private body(preview: Preview): HTMLElement[] {
    if (preview.kind === 'text') {
      const pre = document.createElement('pre');
      pre.className = 'quarry-Preview-text';
      pre.textContent = (preview.text ?? '') + (preview.truncated ? '\n…' : '');
      return [pre];
    }
    if (preview.kind === 'binary') {
      const note = document.createElement('div');
      note.className = 'quarry-Preview-note';
      note.textContent = 'A binary file: nothing to preview.';
      return [note];
    }
    const parts: HTMLElement[] = [];
    if (preview.parquet) {
      parts.push(this.parquet(preview.parquet));
    }
    parts.push(this.rows(preview.table as DataResource));
    return parts;
  }

  private parquet(footer: NonNullable<Preview['parquet']>): HTMLElement {
    const section = document.createElement('div');
    section.className = 'quarry-Preview-parquet';
    const summary = document.createElement('div');
    summary.className = 'quarry-Preview-summary';
    summary.textContent = `${footer.rows.toLocaleString('en-US')} rows · ${footer.row_groups} row group${footer.row_groups === 1 ? '' : 's'}`;
    const schema = document.createElement('table');
    schema.className = 'quarry-Preview-schema';
    schema.innerHTML = '<thead><tr><th>column</th><th>type</th><th>nulls</th><th>min</th><th>max</th></tr></thead>';
    const body = document.createElement('tbody');
    for (const column of footer.columns) {
      const tr = document.createElement('tr');
      tr.dataset.column = column.name;
      for (const value of [column.name, column.type, column.nulls ?? '', column.min ?? '', column.max ?? '']) {
        const td = document.createElement('td');
        td.textContent = String(value);
        tr.appendChild(td);
      }
      body.appendChild(tr);
    }
    schema.appendChild(body);
    section.append(summary, schema);
    return section;
  }

  private rows(resource: DataResource): HTMLElement {
    const table = document.createElement('table');
    table.className = 'quarry-Preview-rows';
    const fields = resource?.schema?.fields ?? [];
    const head = document.createElement('tr');
    for (const field of fields) {
      const th = document.createElement('th');
      th.textContent = field.name;
      head.appendChild(th);
    }
    const thead = document.createElement('thead');
    thead.appendChild(head);
    const tbody = document.createElement('tbody');
    for (const row of (resource?.data ?? []).slice(0, ROWS_SHOWN)) {
      const tr = document.createElement('tr');
      for (const field of fields) {
        const td = document.createElement('td');
        const value = row[field.name];
        td.textContent = value === null || value === undefined ? 'NULL' : String(value);
        tr.appendChild(td);
      }
      tbody.appendChild(tr);
    }
    table.append(thead, tbody);
    return table;
  }
}

interface DataResource {
  schema?: { fields?: { name: string }[] };
  data?: Record<string, unknown>[];
}
