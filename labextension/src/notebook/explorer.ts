/**
 * The data explorer: a left-sidebar list of everything the active Quarry
 * notebook's kernel can query — its tables and views with their columns,
 * and the running Spark session's temporary views — kept current by the
 * kernel, which sends the list over the `quarry.tables` comm after every
 * cell. Clicking a name inserts it at the cursor; its menu writes a
 * SELECT, a profile or a chart cell.
 */

import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { Kernel, KernelMessage } from '@jupyterlab/services';
import { tableRowsIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { ExplorerAction, ExplorerItem, TableListing, actionCell, explorerItems } from './explorer-model';
import { insertAndRun } from './notebook-host';
import { KERNEL_NAME } from './query';

const TARGET = 'quarry.tables';

export class DataExplorer extends Widget {
  private panel: NotebookPanel | null = null;
  private comm: Kernel.IComm | null = null;
  private commKernel: Kernel.IKernelConnection | null = null;
  private items: ExplorerItem[] = [];
  private expanded = new Set<string>();
  /** The item a context menu was opened on. */
  contextItem: ExplorerItem | null = null;
  private readonly header = document.createElement('div');
  private readonly list = document.createElement('div');
  private readonly message = document.createElement('div');

  constructor(notebooks: INotebookTracker) {
    super();
    this.id = 'quarry-data-explorer';
    this.addClass('quarry-Explorer');
    this.title.icon = tableRowsIcon;
    this.title.caption = 'Data explorer: the tables of the active Quarry notebook';
    this.header.className = 'quarry-Explorer-header';
    this.list.className = 'quarry-Explorer-list';
    this.message.className = 'quarry-Explorer-message';
    this.node.append(this.header, this.message, this.list);
    notebooks.currentChanged.connect((_, panel) => this.follow(panel));
    this.follow(notebooks.currentWidget);
  }

  /** Follows `panel`'s kernel (or shows why there is nothing to list). */
  private follow(panel: NotebookPanel | null): void {
    if (panel === this.panel) {
      return;
    }
    this.panel?.sessionContext.statusChanged.disconnect(this.onStatus, this);
    this.panel?.sessionContext.kernelChanged.disconnect(this.onKernel, this);
    this.panel = panel;
    this.closeComm();
    if (!panel) {
      this.draw([], 'Open a Quarry notebook to see its tables.');
      return;
    }
    panel.sessionContext.statusChanged.connect(this.onStatus, this);
    panel.sessionContext.kernelChanged.connect(this.onKernel, this);
    void panel.sessionContext.ready.then(() => this.connect());
  }

  private onStatus(): void {
    // After a restart the kernel has closed our comm: open a new one.
    if (!this.comm && this.panel?.sessionContext.session?.kernel?.status === 'idle') {
      this.connect();
    }
  }

  private onKernel(): void {
    this.closeComm();
    this.connect();
  }

  private closeComm(): void {
    if (this.comm && !this.comm.isDisposed) {
      try {
        this.comm.close();
      } catch {
        // The kernel is gone already.
      }
    }
    this.comm = null;
    this.commKernel = null;
  }

  private connect(): void {
    const panel = this.panel;
    const kernel = panel?.sessionContext.session?.kernel ?? null;
    const name = panel?.title.label ?? '';
    if (!panel || !kernel) {
      this.draw([], `${name}: no kernel is running.`);
      return;
    }
    if (kernel.name !== KERNEL_NAME) {
      this.draw([], `${name} runs ${kernel.name}, not Quarry.`);
      return;
    }
    if (this.comm && this.commKernel === kernel) {
      return;
    }
    this.header.textContent = name;
    const comm = kernel.createComm(TARGET);
    comm.onMsg = (msg: KernelMessage.ICommMsgMsg) => this.receive(msg.content.data as TableListing);
    comm.onClose = () => {
      if (this.comm === comm) {
        this.comm = null;
      }
    };
    comm.open({});
    this.comm = comm;
    this.commKernel = kernel;
  }

  private receive(listing: TableListing): void {
    if (listing.error) {
      this.draw(this.items, listing.error);
      return;
    }
    const items = explorerItems(listing);
    const note = listing.spark_error ?? (items.length ? null : 'No tables yet: CREATE TABLE, CREATE EXTERNAL TABLE or %%spark -o make one.');
    this.draw(items, note);
  }

  private draw(items: ExplorerItem[], note: string | null): void {
    this.items = items;
    if (!this.comm) {
      this.header.textContent = this.panel?.title.label ?? 'Data';
    }
    this.message.textContent = note ?? '';
    this.message.hidden = !note;
    const sections: [string, ExplorerItem[]][] = [
      ['Tables', items.filter(i => i.engine === 'sql')],
      ['Spark views', items.filter(i => i.engine === 'spark')]
    ];
    this.list.replaceChildren(
      ...sections
        .filter(([title, members]) => members.length > 0 || title === 'Tables')
        .map(([title, members]) => this.section(title, members))
    );
  }

  private section(title: string, members: ExplorerItem[]): HTMLElement {
    const section = document.createElement('div');
    section.className = 'quarry-Explorer-section';
    section.dataset.section = title;
    const heading = document.createElement('div');
    heading.className = 'quarry-Explorer-sectionTitle';
    heading.textContent = `${title} (${members.length})`;
    section.append(heading, ...members.map(item => this.itemElement(item)));
    return section;
  }

  private itemElement(item: ExplorerItem): HTMLElement {
    const key = `${item.engine}:${item.label}`;
    const row = document.createElement('div');
    row.className = 'quarry-Explorer-item';
    row.dataset.name = item.label;
    row.dataset.kind = item.kind;
    const caret = document.createElement('span');
    caret.className = 'quarry-Explorer-caret';
    const open = this.expanded.has(key);
    caret.textContent = open ? '▾' : '▸';
    caret.addEventListener('click', () => {
      if (!this.expanded.delete(key)) {
        this.expanded.add(key);
      }
      this.draw(this.items, this.message.textContent || null);
    });
    const name = document.createElement('span');
    name.className = 'quarry-Explorer-name';
    name.textContent = item.label;
    name.title = `Insert ${item.reference} at the cursor`;
    name.addEventListener('click', () => this.insertAtCursor(item.reference));
    const kind = document.createElement('span');
    kind.className = 'quarry-Explorer-kind';
    kind.textContent = item.kind;
    kind.title = item.lives;
    row.dataset.lives = item.lives.startsWith('kept') ? 'kept' : 'kernel';
    const line = document.createElement('div');
    line.className = 'quarry-Explorer-line';
    line.append(caret, name, kind);
    line.addEventListener('contextmenu', () => {
      this.contextItem = item;
    });
    row.appendChild(line);
    if (open) {
      const columns = document.createElement('ul');
      columns.className = 'quarry-Explorer-columns';
      for (const [column, type] of item.columns) {
        const li = document.createElement('li');
        li.dataset.column = column;
        li.textContent = column;
        const t = document.createElement('span');
        t.className = 'quarry-Explorer-type';
        t.textContent = type;
        li.appendChild(t);
        li.addEventListener('click', () => this.insertAtCursor(column));
        columns.appendChild(li);
      }
      row.appendChild(columns);
    }
    return row;
  }

  private insertAtCursor(text: string): void {
    const editor = this.panel?.content.activeCell?.editor;
    if (!editor) {
      return;
    }
    editor.replaceSelection?.(text);
    editor.focus();
  }

  /** Runs a menu entry on the item its menu was opened on. */
  async run(action: ExplorerAction): Promise<void> {
    if (this.panel && this.contextItem) {
      await insertAndRun(this.panel, actionCell(this.contextItem, action));
    }
  }
}
