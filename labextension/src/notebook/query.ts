/**
 * "Query in notebook": puts `SELECT * FROM 's3://…' LIMIT 100` into a
 * Quarry notebook and runs it.
 *
 * The active notebook is used when it runs the Quarry kernel; otherwise a
 * new Quarry notebook is opened (in the Jupyter home folder, not in S3, so
 * trying a query never writes to a bucket).
 */

import { JupyterFrontEnd } from '@jupyterlab/application';
import { INotebookTracker, NotebookActions, NotebookPanel } from '@jupyterlab/notebook';

import { queryFor } from '../panel/paths';

/** The kernelspec name Quarry installs (a contract: see the top-level README). */
export const KERNEL_NAME = 'quarry';

export function queryInNotebook(app: JupyterFrontEnd, tracker: INotebookTracker, url: string): Promise<NotebookPanel> {
  return cellInNotebook(app, tracker, queryFor(url));
}

/** Runs `source` as a new cell of a Quarry notebook (the active one when it is Quarry's). */
export async function cellInNotebook(
  app: JupyterFrontEnd,
  tracker: INotebookTracker,
  source: string
): Promise<NotebookPanel> {
  const isQuarry = (p: NotebookPanel | null): p is NotebookPanel =>
    !!p &&
    (p.sessionContext.session?.kernel?.name ?? p.sessionContext.kernelPreference.name) ===
      KERNEL_NAME;
  const current = tracker.currentWidget;
  let panel: NotebookPanel | null = isQuarry(current) ? current : (tracker.find(isQuarry) ?? null);
  if (!panel) {
    // '/' is the Jupyter root (an empty cwd would mean "the current file
    // browser's folder", which is the S3 one).
    panel = (await app.commands.execute('notebook:create-new', {
      kernelName: KERNEL_NAME,
      cwd: '/'
    })) as NotebookPanel;
  }
  app.shell.activateById(panel.id);
  await panel.context.ready;
  await panel.sessionContext.ready;
  const notebook = panel.content;
  const active = notebook.activeCell;
  const reuse = active && active.model.sharedModel.getSource().trim() === '';
  if (!reuse) {
    if (notebook.widgets.length > 0) {
      notebook.activeCellIndex = notebook.widgets.length - 1;
    }
    NotebookActions.insertBelow(notebook);
  }
  notebook.activeCell?.model.sharedModel.setSource(source);
  await NotebookActions.run(notebook, panel.sessionContext);
  return panel;
}
