/**
 * What the result grid needs from the notebook that shows it: that
 * notebook's kernel, and a way to add and run a cell below its output.
 * A grid finds its notebook by the DOM (the panel whose node contains it),
 * so every grid talks to its own notebook's kernel, never the active one.
 */

import { Clipboard, Notification } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookActions, NotebookPanel } from '@jupyterlab/notebook';

import { GridHost } from './grid';

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
      const notebook = panel.content;
      const index = notebook.widgets.findIndex(cell => cell.node.contains(node));
      if (index >= 0) {
        notebook.activeCellIndex = index;
      }
      NotebookActions.insertBelow(notebook);
      notebook.activeCell?.model.sharedModel.setSource(source);
      await NotebookActions.run(notebook, panel.sessionContext);
    },
    copy: text => {
      Clipboard.copyToSystem(text);
      const lines = text.split('\n').length - 1;
      Notification.info(lines > 1 ? `Copied ${lines} lines` : 'Copied', { autoClose: 1500 });
    }
  };
}
