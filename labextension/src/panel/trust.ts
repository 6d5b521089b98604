/**
 * Notebooks from S3 are never trusted.
 *
 * Jupyter runs the HTML and JavaScript in a notebook's outputs only for
 * cells marked trusted, and normally decides that itself: the server signs
 * notebooks its user ran and checks the signature on load. A notebook read
 * from a bucket bypasses that check, so a `trusted: true` stored in the
 * file — by anyone who can write to a shared bucket — would run its
 * scripts as whoever opens it. The flag is therefore dropped on the way in
 * (the user can still choose "Trust Notebook") and never stored on the way
 * out, so trust does not travel through S3.
 *
 * Pure (no JupyterLab imports): tested with node's own runner.
 */

/** A notebook's JSON, loosely: only what trust touches is typed. */
export interface INotebookJson {
  metadata?: Record<string, unknown>;
  cells?: Array<{ metadata?: Record<string, unknown> } & Record<string, unknown>>;
  [key: string]: unknown;
}

/** `notebook` with every `trusted` flag removed (a new object). */
export function withoutTrust<T extends INotebookJson>(notebook: T): T {
  const strip = (metadata?: Record<string, unknown>) => {
    if (!metadata || typeof metadata !== 'object') {
      return metadata;
    }
    const { trusted: _dropped, ...rest } = metadata;
    return rest;
  };
  const cells = Array.isArray(notebook.cells)
    ? notebook.cells.map(cell => ({ ...cell, metadata: strip(cell.metadata) ?? {} }))
    : notebook.cells;
  return { ...notebook, metadata: strip(notebook.metadata), cells };
}
