/**
 * The result grid: JupyterLab's renderer for
 * `application/vnd.quarry.result+json`. It draws the first page the kernel
 * sent with the result, and asks the kernel (over the `quarry.results`
 * comm) for every other view — sorted, filtered, another page, or any
 * window of "show all" — so the whole result is explored while only the
 * visible rows cross the wire.
 */

import { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Kernel } from '@jupyterlab/services';
import { Widget } from '@lumino/widgets';

import {
  Cell,
  GRID_ACTIONS,
  GridAction,
  GridColumn,
  PAGE_SIZE,
  PageAnswer,
  ResultBundle,
  SortKey,
  Filter,
  cellText,
  describeFilter,
  groupThousands,
  nextSort,
  parseFilter,
  rowRange,
  toCsv,
  toMarkdown,
  visibleWindow
} from './grid-model';
import { ResultsChannel, resultsChannel } from './results-comm';

export const RESULT_MIME = 'application/vnd.quarry.result+json';

/** What the grid needs from JupyterLab, given by the plugin. */
export interface GridHost {
  /** The kernel of the notebook showing `node`, if it is connected. */
  kernelFor(node: HTMLElement): Kernel.IKernelConnection | null;
  /** Inserts `source` as a new cell below the one showing `node`, and runs it. */
  insertCell(node: HTMLElement, source: string): Promise<void>;
  copy(text: string): void;
}

/** Row height in "show all" mode (CSS keeps rows to it). */
const ROW_HEIGHT = 24;
/** Height of the scrolling window in "show all" mode. */
const VIEWPORT_HEIGHT = 408;
/** Pages kept in "show all" mode before the least recent is dropped. */
const PAGES_KEPT = 40;

export class ResultGrid extends Widget implements IRenderMime.IRenderer {
  private bundle: ResultBundle | null = null;
  private columns: GridColumn[] = [];
  private sort: SortKey[] = [];
  private filters = new Map<string, Filter>();
  private offset = 0;
  private rows: Cell[][] = [];
  private matching = 0;
  private gone = false;
  private showAll = false;
  private pages = new Map<number, Cell[][]>();
  private asked = new Set<number>();
  private generation = 0;
  private selected: { row: number; column: number } | null = null;
  private channel: ResultsChannel | null = null;
  private unlisten: (() => void) | null = null;
  private readonly toolbar = document.createElement('div');
  private readonly message = document.createElement('div');
  private readonly viewport = document.createElement('div');
  private readonly spacer = document.createElement('div');
  private readonly table = document.createElement('table');
  private readonly body = document.createElement('tbody');

  constructor(private readonly host: GridHost) {
    super();
    this.addClass('quarry-Grid');
    this.node.tabIndex = 0;
    this.toolbar.className = 'quarry-Grid-toolbar';
    this.message.className = 'quarry-Grid-message';
    this.viewport.className = 'quarry-Grid-viewport';
    this.spacer.className = 'quarry-Grid-spacer';
    this.table.className = 'quarry-Grid-table';
    this.spacer.appendChild(this.table);
    this.viewport.appendChild(this.spacer);
    this.node.append(this.toolbar, this.message, this.viewport);
    this.viewport.addEventListener('scroll', () => this.onScroll());
    this.node.addEventListener('keydown', event => {
      if ((event.ctrlKey || event.metaKey) && event.key === 'c' && this.selected) {
        event.preventDefault();
        this.copySelected();
      }
    });
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const bundle = model.data[RESULT_MIME] as unknown as ResultBundle;
    this.bundle = bundle;
    this.columns = bundle.columns;
    this.rows = bundle.first_page.rows;
    this.offset = 0;
    this.matching = bundle.total_rows;
    this.node.dataset.resultId = bundle.result_id ?? '';
    this.drawHeader();
    this.drawToolbar();
    this.drawRows();
    this.say(bundle.note);
  }

  protected onAfterAttach(): void {
    this.connect();
  }

  dispose(): void {
    this.unlisten?.();
    super.dispose();
  }

  /** Finds this notebook's kernel and checks the result is still held. */
  private connect(): void {
    const kernel = this.host.kernelFor(this.node);
    if (!kernel || !this.bundle?.result_id) {
      return;
    }
    this.channel = resultsChannel(kernel);
    this.unlisten?.();
    this.unlisten = this.channel.onRestart(() =>
      this.markGone('The kernel restarted; this result is gone. Run the cell again to explore it.')
    );
    void this.channel
      .ask(this.bundle.result_id, { sort: [], filters: [], offset: 0, limit: 0 })
      .then(answer => {
        if (answer.gone) {
          this.markGone(answer.error ?? 'This result is gone.');
        }
      });
  }

  private say(text: string | null, kind: 'note' | 'error' | 'gone' = 'note'): void {
    this.message.textContent = text ?? '';
    this.message.dataset.kind = kind;
    this.message.hidden = !text;
  }

  private markGone(error: string): void {
    this.gone = true;
    this.node.dataset.gone = 'true';
    this.rows = [];
    this.pages.clear();
    this.drawRows();
    this.drawToolbar();
    this.say(error, 'gone');
  }

  private async ask(offset: number, limit: number): Promise<PageAnswer> {
    const id = this.bundle?.result_id;
    if (!id) {
      return { error: this.bundle?.note ?? 'The kernel does not hold this result.' };
    }
    if (!this.channel) {
      this.connect();
    }
    if (!this.channel) {
      return { error: 'This notebook is not connected to the Quarry kernel that made this result.' };
    }
    const answer = await this.channel.ask(id, {
      sort: this.sort,
      filters: [...this.filters.values()],
      offset,
      limit
    });
    if (answer.gone) {
      this.markGone(answer.error ?? 'This result is gone.');
    }
    return answer;
  }

  /** Asks for the current view again (after a sort, filter or page change). */
  private async refresh(offset: number): Promise<void> {
    const generation = ++this.generation;
    this.node.dataset.loading = 'true';
    this.pages.clear();
    this.asked.clear();
    const answer = await this.ask(offset, PAGE_SIZE);
    if (generation !== this.generation) {
      return;
    }
    delete this.node.dataset.loading;
    if (!answer.page) {
      if (!answer.gone) {
        this.say(answer.error ?? 'The kernel sent no page.', 'error');
      }
      return;
    }
    this.say(null);
    this.offset = answer.page.offset;
    this.rows = answer.page.rows;
    this.matching = answer.page.matching_rows;
    this.pages.set(Math.floor(this.offset / PAGE_SIZE), this.rows);
    this.drawHeader();
    this.drawToolbar();
    if (this.showAll) {
      this.viewport.scrollTop = 0;
    }
    this.drawRows();
  }

  private drawHeader(): void {
    const head = document.createElement('thead');
    const names = document.createElement('tr');
    const filters = document.createElement('tr');
    filters.className = 'quarry-Grid-filters';
    this.columns.forEach(column => {
      names.appendChild(this.headerCell(column));
      filters.appendChild(this.filterCell(column));
    });
    head.append(names, filters);
    this.table.replaceChildren(head, this.body);
  }

  private headerCell(column: GridColumn): HTMLTableCellElement {
    const th = document.createElement('th');
    th.dataset.column = column.name;
    th.dataset.kind = column.kind;
    th.title = `${column.name}: ${column.type} — click to sort`;
    const name = document.createElement('span');
    name.className = 'quarry-Grid-name';
    name.textContent = column.name;
    const type = document.createElement('span');
    type.className = 'quarry-Grid-type';
    type.textContent = column.type;
    const key = this.sort.find(k => k.column === column.name);
    const arrow = document.createElement('span');
    arrow.className = 'quarry-Grid-sort';
    arrow.textContent = key ? (key.descending ? '▼' : '▲') : '';
    th.dataset.sort = key ? (key.descending ? 'descending' : 'ascending') : 'none';
    th.append(name, arrow, type);
    th.addEventListener('click', () => {
      if (this.gone) {
        return;
      }
      this.sort = nextSort(this.sort, column.name);
      void this.refresh(0);
    });
    return th;
  }

  private filterCell(column: GridColumn): HTMLTableCellElement {
    const th = document.createElement('th');
    const input = document.createElement('input');
    input.className = 'quarry-Grid-filter';
    input.dataset.column = column.name;
    input.placeholder = column.kind === 'number' ? '> 5, = 3, is null' : "= x, contains a, is null";
    const current = this.filters.get(column.name);
    input.value = current ? describeFilter(current) : '';
    input.disabled = this.gone;
    input.addEventListener('keydown', event => {
      if (event.key === 'Enter') {
        const filter = parseFilter(column, input.value);
        if (filter) {
          this.filters.set(column.name, filter);
        } else {
          this.filters.delete(column.name);
        }
        void this.refresh(0);
      }
    });
    th.appendChild(input);
    return th;
  }

  private drawToolbar(): void {
    const pages = Math.max(1, Math.ceil(this.matching / PAGE_SIZE));
    const page = Math.floor(this.offset / PAGE_SIZE) + 1;
    const range = document.createElement('span');
    range.className = 'quarry-Grid-range';
    range.textContent = this.gone
      ? `${groupThousands(this.bundle?.total_rows ?? 0)} rows (gone)`
      : this.showAll
        ? `All ${groupThousands(this.matching)} rows${this.matching !== this.bundle?.total_rows ? ` matching (${groupThousands(this.bundle?.total_rows ?? 0)} in all)` : ''}`
        : rowRange(this.offset, this.rows.length, this.matching, this.bundle?.total_rows ?? 0);
    const held = !!this.bundle?.result_id && !this.gone;
    this.toolbar.replaceChildren(
      range,
      this.button('prev', '‹ Prev', held && !this.showAll && page > 1, () => this.refresh(this.offset - PAGE_SIZE)),
      this.label(this.showAll ? '' : `Page ${groupThousands(page)} of ${groupThousands(pages)}`),
      this.button('next', 'Next ›', held && !this.showAll && page < pages, () => this.refresh(this.offset + PAGE_SIZE)),
      this.button('all', this.showAll ? 'Pages' : 'Show all', held, () => this.toggleShowAll()),
      this.separator(),
      this.button('copy-cell', 'Copy cell', true, () => this.copySelected()),
      this.button('csv', 'Copy CSV', true, () => this.host.copy(toCsv(this.columns, this.visibleRows()))),
      this.button('markdown', 'Copy Markdown', true, () => this.host.copy(toMarkdown(this.columns, this.visibleRows()))),
      this.separator(),
      ...GRID_ACTIONS.map(action =>
        this.button(action, action[0].toUpperCase() + action.slice(1), held, () => this.runAction(action))
      )
    );
  }

  /**
   * Asks the kernel holding this result for the button's cell (over the
   * grid's filters and sort) and inserts it. A result the kernel does not
   * hold — a saved or forged output — gets no cell: the grid says so.
   */
  private async runAction(action: GridAction): Promise<void> {
    const id = this.bundle?.result_id;
    if (!id || this.gone) {
      return;
    }
    if (!this.channel) {
      this.connect();
    }
    if (!this.channel) {
      this.say('This notebook is not connected to the Quarry kernel that made this result.', 'error');
      return;
    }
    const answer = await this.channel.actions(id, { sort: this.sort, filters: [...this.filters.values()] });
    if (answer.gone) {
      this.markGone(answer.error ?? 'This result is gone.');
      return;
    }
    if (!answer.actions) {
      this.say(answer.error ?? 'The kernel sent no cell for this button.', 'error');
      return;
    }
    await this.host.insertCell(this.node, answer.actions[action]);
  }

  private button(action: string, text: string, enabled: boolean, onClick: () => unknown): HTMLButtonElement {
    const button = document.createElement('button');
    button.className = 'quarry-Grid-button';
    button.dataset.action = action;
    button.textContent = text;
    button.disabled = !enabled;
    button.addEventListener('click', () => void onClick());
    return button;
  }

  private label(text: string): HTMLSpanElement {
    const span = document.createElement('span');
    span.className = 'quarry-Grid-page';
    span.textContent = text;
    return span;
  }

  private separator(): HTMLSpanElement {
    const span = document.createElement('span');
    span.className = 'quarry-Grid-separator';
    return span;
  }

  /** The rows on screen now (what the copy buttons copy). */
  private visibleRows(): Cell[][] {
    if (!this.showAll) {
      return this.rows;
    }
    const window = this.window();
    return Array.from({ length: window.count }, (_, i) => this.rowAt(window.first + i)).filter(
      (row): row is Cell[] => row !== null
    );
  }

  private copySelected(): void {
    if (!this.selected) {
      return;
    }
    const row = this.showAll ? this.rowAt(this.selected.row) : this.rows[this.selected.row - this.offset];
    if (row) {
      this.host.copy(cellText(row[this.selected.column]));
    }
  }

  private toggleShowAll(): void {
    this.showAll = !this.showAll;
    this.node.dataset.mode = this.showAll ? 'all' : 'pages';
    this.viewport.scrollTop = 0;
    void this.refresh(0);
  }

  private window(): { first: number; count: number; spacer: number } {
    return visibleWindow(this.viewport.scrollTop, VIEWPORT_HEIGHT - ROW_HEIGHT * 2, ROW_HEIGHT, this.matching);
  }

  private rowAt(index: number): Cell[] | null {
    const page = this.pages.get(Math.floor(index / PAGE_SIZE));
    return page ? (page[index % PAGE_SIZE] ?? null) : null;
  }

  private drawRows(): void {
    if (this.showAll) {
      this.drawWindow();
      return;
    }
    this.spacer.style.height = '';
    this.table.style.top = '';
    this.body.replaceChildren(...this.rows.map((row, i) => this.rowElement(row, this.offset + i)));
  }

  private drawWindow(): void {
    const window = this.window();
    this.spacer.style.height = `${window.spacer + ROW_HEIGHT * 2}px`;
    this.table.style.top = `${this.viewport.scrollTop}px`;
    const rows: HTMLTableRowElement[] = [];
    for (let index = window.first; index < window.first + window.count; index++) {
      const row = this.rowAt(index);
      rows.push(row ? this.rowElement(row, index) : this.placeholder(index));
      if (!row) {
        this.fetchPage(Math.floor(index / PAGE_SIZE));
      }
    }
    this.body.replaceChildren(...rows);
  }

  private onScroll(): void {
    if (this.showAll) {
      this.drawWindow();
    }
  }

  /** Fetches one page for "show all", once, keeping the most recent few. */
  private fetchPage(page: number): void {
    if (this.asked.has(page) || this.gone) {
      return;
    }
    this.asked.add(page);
    const generation = this.generation;
    void this.ask(page * PAGE_SIZE, PAGE_SIZE).then(answer => {
      if (generation !== this.generation || !answer.page) {
        this.asked.delete(page);
        return;
      }
      this.pages.set(page, answer.page.rows);
      while (this.pages.size > PAGES_KEPT) {
        const oldest = this.pages.keys().next().value as number;
        this.pages.delete(oldest);
        this.asked.delete(oldest);
      }
      this.drawWindow();
    });
  }

  private rowElement(row: Cell[], index: number): HTMLTableRowElement {
    const tr = document.createElement('tr');
    tr.dataset.row = String(index);
    row.forEach((cell, column) => tr.appendChild(this.cellElement(cell, index, column)));
    return tr;
  }

  private cellElement(cell: Cell, row: number, column: number): HTMLTableCellElement {
    const td = document.createElement('td');
    const kind = this.columns[column]?.kind ?? 'text';
    td.dataset.kind = kind;
    if (cell === null) {
      td.className = 'quarry-Grid-null';
      td.textContent = 'NULL';
    } else if (typeof cell === 'object') {
      td.className = 'quarry-Grid-nested';
      td.textContent = cellText(cell);
      td.title = 'Click to expand or fold';
      td.addEventListener('click', () => {
        const expanded = td.classList.toggle('quarry-mod-expanded');
        if (expanded) {
          const pre = document.createElement('pre');
          pre.textContent = JSON.stringify(cell, null, 2);
          td.replaceChildren(pre);
        } else {
          td.textContent = cellText(cell);
        }
      });
    } else {
      td.textContent = cellText(cell);
    }
    if (this.selected?.row === row && this.selected.column === column) {
      td.classList.add('quarry-mod-selected');
    }
    td.addEventListener('mousedown', () => {
      this.selected = { row, column };
      this.node.querySelectorAll('.quarry-mod-selected').forEach(e => e.classList.remove('quarry-mod-selected'));
      td.classList.add('quarry-mod-selected');
    });
    return td;
  }

  private placeholder(index: number): HTMLTableRowElement {
    const tr = document.createElement('tr');
    tr.dataset.row = String(index);
    tr.className = 'quarry-Grid-loading';
    const td = document.createElement('td');
    td.colSpan = Math.max(1, this.columns.length);
    td.textContent = '…';
    tr.appendChild(td);
    return tr;
  }
}

/** The renderer factory the plugin registers (ranked before HTML). */
export function gridRendererFactory(host: GridHost): IRenderMime.IRendererFactory {
  return {
    safe: true,
    mimeTypes: [RESULT_MIME],
    defaultRank: 20,
    createRenderer: () => new ResultGrid(host)
  };
}
