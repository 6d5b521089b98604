/**
 * What the result grid needs from the notebook that shows it: that
 * notebook's kernel, and a way to add and run a cell below its output.
 * A grid finds its notebook by the DOM (the panel whose node contains it),
 * so every grid talks to its own notebook's kernel, never the active one.
 */

import { Clipboard, Notification } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookActions, NotebookPanel } from '@jupyterlab/notebook';

import { GridHost } from './grid';

/** Inserts `source` as a cell below cell `index` (or the active cell) and runs it. */
export async function insertAndRun(panel: NotebookPanel, source: string, index = -1): Promise<void> {
  const notebook = panel.content;
  if (index >= 0) {
    notebook.activeCellIndex = index;
  }
  NotebookActions.insertBelow(notebook);
  notebook.activeCell?.model.sharedModel.setSource(source);
  await NotebookActions.run(notebook, panel.sessionContext);
}

export function notebookHost(notebooks: INotebookTracker): GridHost {
  const panelOf = (node: HTMLElement): NotebookPanel | null =>
    notebooks.find(panel => panel.node.contains(node)) ?? null;
  return {
    kernelFor: node => panelOf(node)?.sessionContext.session?.kernel ?? null,
    insertCell: async (node, source) => {
      const panel = panelOf(node);
      if (!panel) {
        Notification.error('This result is not in an open notebook.');
        return;
      }
      const index = panel.content.widgets.findIndex(cell => cell.node.contains(node));
      await insertAndRun(panel, source, index);
    },
    copy: text => {
      Clipboard.copyToSystem(text);
      const lines = text.split('\n').length - 1;
      Notification.info(lines > 1 ? `Copied ${lines} lines` : 'Copied', { autoClose: 1500 });
    }
  };
}
