/**
 * Uploads from the browser to S3, one file at a time per folder drop,
 * chunked through the backend's multipart API, with progress and cancel.
 *
 * JupyterLab's own upload sends base64 chunks through the contents API and
 * cannot be cancelled; the file browser's upload button and drag-and-drop
 * are routed here instead (see `panel.ts`).
 */

import { Signal, ISignal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { QuarryApi, QuarryApiError } from './api';
import { humanBytes, planChunks } from './chunks';
import * as paths from './paths';

export type UploadState = 'queued' | 'sending' | 'done' | 'failed' | 'cancelled';

export class UploadTask {
  constructor(
    readonly file: File,
    /** The drive path of the target object. */
    readonly path: string
  ) {}

  state: UploadState = 'queued';
  sent = 0;
  error: string | null = null;
  uploadId: string | null = null;
  readonly controller = new AbortController();

  get total(): number {
    return this.file.size;
  }

  get finished(): boolean {
    return this.state === 'done' || this.state === 'failed' || this.state === 'cancelled';
  }
}

/** Files sent at once; the rest wait their turn (shown as "Waiting…"). */
const PARALLEL_UPLOADS = 3;

export class Uploader {
  constructor(private readonly _api: QuarryApi) {}

  /** Emitted on every progress step, finish, failure and cancel (with the
   * task), and when finished tasks are cleared (with `null`). */
  get changed(): ISignal<this, UploadTask | null> {
    return this._changed;
  }

  get tasks(): readonly UploadTask[] {
    return this._tasks;
  }

  /** Uploads `file` into the drive folder `folder`; resolves when it ends. */
  async upload(file: File, folder: string): Promise<UploadTask> {
    const problem = paths.invalidName(file.name);
    const task = new UploadTask(file, paths.join(folder, file.name));
    this._tasks.push(task);
    if (problem || !paths.parse(task.path).key) {
      task.state = 'failed';
      task.error = problem ?? 'Open a bucket first: files are uploaded into a bucket.';
      this._changed.emit(task);
      return task;
    }
    this._changed.emit(task);
    await this._turn(task);
    try {
      if (!task.controller.signal.aborted) {
        await this._send(task);
      }
    } finally {
      this._active--;
      this._waiting.shift()?.();
    }
    return task;
  }

  /** Waits until fewer than PARALLEL_UPLOADS uploads are running. */
  private async _turn(task: UploadTask): Promise<void> {
    while (this._active >= PARALLEL_UPLOADS) {
      await new Promise<void>(resolve => this._waiting.push(resolve));
    }
    this._active++;
  }

  /** Stops an upload; the backend aborts the S3 multipart upload. */
  cancel(task: UploadTask): void {
    if (task.finished) {
      return;
    }
    task.controller.abort();
    task.state = 'cancelled';
    this._changed.emit(task);
    if (task.uploadId) {
      void this._api.cancelUpload(task.uploadId).catch(() => undefined);
    }
  }

  /** Drops finished tasks from the list. */
  clearFinished(): void {
    this._tasks = this._tasks.filter(t => !t.finished);
    this._changed.emit(null);
  }

  private async _send(task: UploadTask): Promise<void> {
    const { bucket, key } = paths.parse(task.path);
    task.state = 'sending';
    this._changed.emit(task);
    try {
      for (const chunk of planChunks(task.total)) {
        if (task.controller.signal.aborted) {
          return;
        }
        const body = task.file.slice(chunk.start, chunk.end);
        const reply = await this._api.uploadChunk(
          bucket,
          key,
          chunk.part,
          task.uploadId,
          chunk.last,
          body,
          task.controller.signal
        );
        if (chunk.part === 1 && !chunk.last) {
          task.uploadId = reply.upload_id ?? null;
        }
        task.sent = chunk.end;
        this._changed.emit(task);
      }
      task.state = 'done';
    } catch (error) {
      if (task.controller.signal.aborted) {
        return;
      }
      task.state = 'failed';
      task.error = error instanceof QuarryApiError ? error.message : String(error);
    }
    this._changed.emit(task);
  }

  private _tasks: UploadTask[] = [];
  private _active = 0;
  private _waiting: (() => void)[] = [];
  private _changed = new Signal<this, UploadTask | null>(this);
}

/** The list of uploads under the S3 file browser, with progress bars. */
export class UploadList extends Widget {
  constructor(private readonly _uploader: Uploader) {
    super();
    this.addClass('quarry-UploadList');
    this._uploader.changed.connect(this._render, this);
    this._render();
  }

  private _render(): void {
    const tasks = this._uploader.tasks;
    this.node.replaceChildren();
    this.setHidden(tasks.length === 0);
    if (tasks.length === 0) {
      return;
    }
    const header = document.createElement('div');
    header.className = 'quarry-UploadList-header';
    const title = document.createElement('span');
    const active = tasks.filter(t => !t.finished).length;
    title.textContent = active ? `Uploading ${active} file${active === 1 ? '' : 's'}` : 'Uploads';
    header.appendChild(title);
    if (tasks.some(t => t.finished)) {
      const clear = document.createElement('button');
      clear.className = 'jp-Button jp-mod-minimal quarry-UploadList-clear';
      clear.textContent = 'Clear';
      clear.title = 'Remove finished uploads from this list';
      clear.onclick = () => this._uploader.clearFinished();
      header.appendChild(clear);
    }
    this.node.appendChild(header);
    for (const task of tasks) {
      this.node.appendChild(this._row(task));
    }
  }

  private _row(task: UploadTask): HTMLElement {
    const row = document.createElement('div');
    row.className = `quarry-Upload quarry-mod-${task.state}`;
    row.dataset.path = task.path;
    const name = document.createElement('div');
    name.className = 'quarry-Upload-name';
    name.textContent = task.file.name;
    name.title = paths.toS3Url(task.path);
    row.appendChild(name);
    const bar = document.createElement('progress');
    bar.className = 'quarry-Upload-bar';
    bar.max = Math.max(task.total, 1);
    bar.value = task.state === 'done' ? bar.max : task.sent;
    row.appendChild(bar);
    const status = document.createElement('div');
    status.className = 'quarry-Upload-status';
    status.textContent = describeTask(task);
    row.appendChild(status);
    if (!task.finished) {
      const cancel = document.createElement('button');
      cancel.className = 'jp-Button jp-mod-minimal quarry-Upload-cancel';
      cancel.textContent = 'Cancel';
      cancel.title = `Cancel uploading ${task.file.name}`;
      cancel.onclick = () => this._uploader.cancel(task);
      row.appendChild(cancel);
    }
    return row;
  }
}

function describeTask(task: UploadTask): string {
  switch (task.state) {
    case 'queued':
      return 'Waiting…';
    case 'sending':
      return `${humanBytes(task.sent)} of ${humanBytes(task.total)}`;
    case 'done':
      return `Uploaded ${humanBytes(task.total)}`;
    case 'cancelled':
      return 'Cancelled';
    case 'failed':
      return task.error ?? 'Failed';
  }
}
