/**
 * S3 as a JupyterLab drive: the file browser, the editors and the notebook
 * read and write S3 through this `Contents.IDrive`, backed by the panel
 * backend's REST API.
 *
 * Folder listings come from a {@link ListingCache}: the browser sees the
 * pages loaded so far and "Load more" appends one, so a 100k-object prefix
 * opens as fast as a small one. Writes invalidate the folders they touch.
 */

import { Contents, ServerConnection } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import { QuarryApi, QuarryApiError } from './api';
import { Entry, FolderState, ListingCache, Page } from './paging';
import * as paths from './paths';
import { INotebookJson, withoutTrust } from './trust';

/** Objects larger than this are not opened in an editor. */
const MAX_OPEN_BYTES = 64 * 1024 * 1024;
/** Entries per listing page. */
const PAGE_SIZE = 500;

const EMPTY_NOTEBOOK = {
  cells: [],
  metadata: {
    kernelspec: { name: 'quarry', display_name: 'Quarry (SQL · Spark)', language: 'sql' },
    language_info: { name: 'sql' }
  },
  nbformat: 4,
  nbformat_minor: 5
};

export class S3Drive implements Contents.IDrive {
  constructor(options: { api?: QuarryApi; listings?: ListingCache } = {}) {
    this.api = options.api ?? new QuarryApi();
    this.listings = options.listings ?? new ListingCache();
    this.serverSettings = this.api.settings;
  }

  readonly name = paths.DRIVE_NAME;
  readonly serverSettings: ServerConnection.ISettings;
  readonly api: QuarryApi;
  readonly listings: ListingCache;

  get fileChanged(): ISignal<this, Contents.IChangedArgs> {
    return this._fileChanged;
  }

  /** Emitted when a listing changes without a file changing (load more). */
  get listingChanged(): ISignal<this, string> {
    return this._listingChanged;
  }

  /** Emitted when a listing fails, so the panel can show a toast. */
  get failed(): ISignal<this, QuarryApiError> {
    return this._failed;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    Signal.clearData(this);
  }

  async get(localPath: string, options?: Contents.IFetchOptions): Promise<Contents.IModel> {
    // Documents that fail to load get JupyterLab's own error dialog; only
    // listings (which it would fail silently) are announced.
    const listing = !options?.type || options.type === 'directory';
    return this._reporting(listing, async () => {
      const path = paths.normalize(localPath);
      const { bucket, key } = paths.parse(path);
      if (!bucket) {
        return this._rootModel(options?.content !== false);
      }
      if (!key || options?.type === 'directory' || (await this._isFolder(path, options))) {
        return this._folderModel(path, options?.content !== false);
      }
      return this._fileModel(path, options);
    });
  }

  /** Fetches the next page of a folder and tells the browser to redraw. */
  async loadMore(localPath: string): Promise<FolderState> {
    const path = paths.normalize(localPath);
    const state = await this._reporting(true, () =>
      this.listings.loadMore(path, this._fetcher(path))
    );
    this._listingChanged.emit(path);
    return state;
  }

  /** Whether a folder has pages not loaded yet. */
  hasMore(localPath: string): boolean {
    return this.listings.hasMore(paths.normalize(localPath));
  }

  /** Forgets loaded pages (the "Refresh" button). */
  forget(localPath: string): void {
    this.listings.invalidate(paths.normalize(localPath));
  }

  async getDownloadUrl(localPath: string): Promise<string> {
    const { bucket, key } = paths.parse(localPath);
    return this.api.url('download', { bucket, key });
  }

  async newUntitled(options: Contents.ICreateOptions = {}): Promise<Contents.IModel> {
    return this._reporting(false, async () => {
      const folder = paths.normalize(options.path ?? '');
      const { bucket, key } = paths.parse(folder);
      if (!bucket) {
        throw new QuarryApiError(400, 'bad_request', 'Open a bucket first: new files and folders go inside a bucket.');
      }
      const state = await this.listings.list(folder, this._fetcher(folder));
      const taken = new Set(state.entries.map(e => e.name));
      const type = options.type ?? 'file';
      const prefix = paths.folderPrefix(key);
      let name: string;
      if (type === 'directory') {
        name = paths.uniqueName('Untitled Folder', '', taken);
        await this.api.folder(bucket, `${prefix}${name}`);
      } else {
        const ext = type === 'notebook' ? '.ipynb' : options.ext ?? '.txt';
        name = paths.uniqueName('untitled', ext.startsWith('.') ? ext : `.${ext}`, taken);
        const body =
          type === 'notebook' ? new TextEncoder().encode(JSON.stringify(EMPTY_NOTEBOOK, null, 1)) : new Uint8Array();
        await this.api.uploadChunk(bucket, `${prefix}${name}`, 1, null, true, body);
      }
      this.listings.invalidate(folder);
      const model = this._model(folder, {
        name,
        key: `${prefix}${name}${type === 'directory' ? '/' : ''}`,
        kind: type === 'directory' ? 'folder' : 'object',
        size: 0,
        lastModified: new Date().toISOString()
      });
      this._fileChanged.emit({ type: 'new', oldValue: null, newValue: model });
      return model;
    });
  }

  async delete(localPath: string): Promise<void> {
    return this._reporting(false, async () => {
      const path = paths.normalize(localPath);
      const { bucket, key } = paths.parse(path);
      if (!key) {
        throw new QuarryApiError(400, 'bad_request', 'Buckets cannot be deleted from the panel; ask your platform administrator.');
      }
      const folder = await this._isFolder(path);
      await this.api.remove(bucket, folder ? paths.folderPrefix(key) : key);
      this.listings.invalidate(paths.dirname(path));
      if (folder) {
        this.listings.invalidateTree(path);
      }
      this._fileChanged.emit({ type: 'delete', oldValue: { path }, newValue: null });
    });
  }

  async rename(oldLocalPath: string, newLocalPath: string): Promise<Contents.IModel> {
    return this._reporting(false, async () => {
      const from = paths.normalize(oldLocalPath);
      const to = paths.normalize(newLocalPath);
      const source = paths.parse(from);
      const target = paths.parse(to);
      if (!source.key || !target.key) {
        throw new QuarryApiError(400, 'bad_request', 'Buckets cannot be renamed, and files cannot be moved outside a bucket.');
      }
      const problem = paths.invalidName(paths.basename(to));
      if (problem) {
        throw new QuarryApiError(400, 'bad_request', problem);
      }
      const folder = await this._isFolder(from);
      const fromKey = folder ? paths.folderPrefix(source.key) : source.key;
      const toKey = folder ? paths.folderPrefix(target.key) : target.key;
      await this.api.move(source.bucket, fromKey, target.bucket, toKey);
      this.listings.invalidate(paths.dirname(from));
      this.listings.invalidate(paths.dirname(to));
      if (folder) {
        this.listings.invalidateTree(from);
      }
      const model = this._model(paths.dirname(to), {
        name: paths.basename(to),
        key: toKey,
        kind: folder ? 'folder' : 'object',
        size: null,
        lastModified: new Date().toISOString()
      });
      this._fileChanged.emit({ type: 'rename', oldValue: { path: from }, newValue: model });
      return model;
    });
  }

  async save(
    localPath: string,
    options: Partial<Contents.IModel> & Contents.IContentProvisionOptions = {}
  ): Promise<Contents.IModel> {
    return this._reporting(false, async () => {
      const path = paths.normalize(localPath);
      const { bucket, key } = paths.parse(path);
      if (!key) {
        throw new QuarryApiError(400, 'bad_request', 'Save into a bucket, not at the top level of S3.');
      }
      if (options.type === 'directory') {
        await this.api.folder(bucket, key);
      } else {
        await this._upload(path, bucket, key, options);
      }
      const folder = paths.dirname(path);
      if (options.chunk === undefined || options.chunk === -1) {
        this.listings.invalidate(folder);
      }
      const model = this._model(folder, {
        name: paths.basename(path),
        key: options.type === 'directory' ? paths.folderPrefix(key) : key,
        kind: options.type === 'directory' ? 'folder' : 'object',
        size: null,
        lastModified: new Date().toISOString()
      });
      this._fileChanged.emit({ type: 'save', oldValue: null, newValue: model });
      return model;
    });
  }

  async copy(localPath: string, toLocalDir: string): Promise<Contents.IModel> {
    return this._reporting(false, async () => {
      const from = paths.normalize(localPath);
      const toDir = paths.normalize(toLocalDir);
      const source = paths.parse(from);
      const target = paths.parse(toDir);
      if (!source.key || !target.bucket) {
        throw new QuarryApiError(400, 'bad_request', 'Buckets cannot be copied; copy the files and folders inside them.');
      }
      const folder = await this._isFolder(from);
      const state = await this.listings.list(toDir, this._fetcher(toDir));
      const name = paths.copyName(paths.basename(from), new Set(state.entries.map(e => e.name)));
      const toKey = `${paths.folderPrefix(target.key)}${name}${folder ? '/' : ''}`;
      await this.api.copy(source.bucket, folder ? paths.folderPrefix(source.key) : source.key, target.bucket, toKey);
      this.listings.invalidate(toDir);
      const model = this._model(toDir, {
        name,
        key: toKey,
        kind: folder ? 'folder' : 'object',
        size: null,
        lastModified: new Date().toISOString()
      });
      this._fileChanged.emit({ type: 'new', oldValue: null, newValue: model });
      return model;
    });
  }

  // S3 keeps no checkpoints beside an object: the saved object *is* the
  // checkpoint, so "Revert to checkpoint" reloads what S3 holds. (Bucket
  // versioning, where enabled, is the way to older versions.)
  async createCheckpoint(localPath: string): Promise<Contents.ICheckpointModel> {
    return { id: 'saved', last_modified: new Date().toISOString() };
  }

  async listCheckpoints(localPath: string): Promise<Contents.ICheckpointModel[]> {
    return [{ id: 'saved', last_modified: new Date().toISOString() }];
  }

  async restoreCheckpoint(localPath: string, checkpointID: string): Promise<void> {
    return;
  }

  async deleteCheckpoint(localPath: string, checkpointID: string): Promise<void> {
    return;
  }

  /**
   * Runs an operation and words its failure as one sentence; `announce`
   * also emits it on `failed` (for operations JupyterLab would not report).
   */
  private async _reporting<T>(announce: boolean, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      const failure =
        error instanceof QuarryApiError
          ? error
          : new QuarryApiError(0, 'internal', error instanceof Error ? error.message : String(error));
      if (announce) {
        this._failed.emit(failure);
      }
      throw failure;
    }
  }

  /** Whether a path names a folder: known from its parent's listing, else asked of S3. */
  private async _isFolder(path: string, options?: Contents.IFetchOptions): Promise<boolean> {
    const { bucket, key } = paths.parse(path);
    if (!key) {
      return true;
    }
    if (options?.type === 'file' || options?.type === 'notebook') {
      return false;
    }
    const known = this.listings.find(paths.dirname(path), paths.basename(path));
    if (known) {
      return known.kind !== 'object';
    }
    // A folder's listing first: asking for it as an object would fail with
    // a 404 in the browser's console every time a folder is opened.
    const page = await this.api.objects(bucket, paths.folderPrefix(key), null, 1);
    if (page.objects.length > 0 || page.prefixes.length > 0) {
      return true;
    }
    try {
      await this.api.object(bucket, key);
      return false;
    } catch (error) {
      if (error instanceof QuarryApiError && error.status === 404) {
        throw new QuarryApiError(404, 'not_found', `${paths.toS3Url(path)} does not exist.`);
      }
      throw error;
    }
  }

  private _fetcher(path: string): (token: string | null) => Promise<Page> {
    const { bucket, key } = paths.parse(path);
    if (!bucket) {
      return async () => {
        const { buckets } = await this.api.buckets();
        return {
          entries: buckets.map(b => ({
            name: b.name,
            key: '',
            kind: 'bucket' as const,
            size: null,
            lastModified: b.created ?? null
          })),
          nextToken: null
        };
      };
    }
    const prefix = paths.folderPrefix(key);
    return async token => {
      const page = await this.api.objects(bucket, prefix, token, PAGE_SIZE);
      const folders: Entry[] = page.prefixes.map(p => ({
        name: paths.basename(p),
        key: p,
        kind: 'folder',
        size: null,
        lastModified: null
      }));
      const objects: Entry[] = page.objects
        // A folder marker listed as an object of its own parent is a folder.
        .filter(o => !o.key.endsWith('/'))
        .map(o => ({
          name: paths.basename(o.key),
          key: o.key,
          kind: 'object',
          size: o.size,
          lastModified: o.last_modified ?? null
        }));
      return { entries: [...folders, ...objects], nextToken: page.next_token };
    };
  }

  private async _rootModel(withContent: boolean): Promise<Contents.IModel> {
    const state = withContent ? await this.listings.list('', this._fetcher('')) : null;
    return {
      name: '',
      path: '',
      type: 'directory',
      writable: false,
      created: '',
      last_modified: '',
      mimetype: '',
      format: withContent ? 'json' : null,
      content: state ? state.entries.map(e => this._model('', e)) : null
    };
  }

  private async _folderModel(path: string, withContent: boolean): Promise<Contents.IModel> {
    const state = withContent ? await this.listings.list(path, this._fetcher(path)) : null;
    return {
      name: paths.basename(path),
      path,
      type: 'directory',
      writable: true,
      created: '',
      last_modified: '',
      mimetype: '',
      format: withContent ? 'json' : null,
      content: state ? state.entries.map(e => this._model(path, e)) : null
    };
  }

  private async _fileModel(path: string, options?: Contents.IFetchOptions): Promise<Contents.IModel> {
    const { bucket, key } = paths.parse(path);
    const meta = await this.api.object(bucket, key);
    const type = options?.type ?? (key.endsWith('.ipynb') ? 'notebook' : 'file');
    const base = {
      name: paths.basename(path),
      path,
      type,
      writable: true,
      created: meta.last_modified ?? '',
      last_modified: meta.last_modified ?? '',
      size: meta.size,
      mimetype: type === 'notebook' ? 'application/x-ipynb+json' : meta.content_type ?? 'text/plain'
    };
    if (options?.content === false) {
      return { ...base, content: null, format: null };
    }
    if (meta.size > MAX_OPEN_BYTES) {
      throw new QuarryApiError(
        413,
        'too_large',
        `${paths.toS3Url(path)} is ${Math.round(meta.size / 1048576)} MiB, too large to open in an editor: download it, or query it with SQL.`
      );
    }
    const bytes = new Uint8Array(await this.api.read(bucket, key));
    if (type === 'notebook') {
      try {
        // Never trusted from S3: see trust.ts.
        return { ...base, format: 'json', content: withoutTrust(JSON.parse(new TextDecoder().decode(bytes))) };
      } catch {
        throw new QuarryApiError(422, 'bad_notebook', `${paths.toS3Url(path)} is not a valid notebook (not JSON).`);
      }
    }
    if (options?.format !== 'base64') {
      try {
        const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
        return { ...base, format: 'text', content: text };
      } catch {
        if (options?.format === 'text') {
          throw new QuarryApiError(
            422,
            'not_text',
            `${paths.toS3Url(path)} is not UTF-8 text: open it with a viewer for its type, or query it with SQL.`
          );
        }
      }
    }
    return { ...base, format: 'base64', content: toBase64(bytes), mimetype: meta.content_type ?? 'application/octet-stream' };
  }

  /**
   * Writes a save: whole content in one request, or JupyterLab's own
   * chunked upload (`chunk` 1, 2, …, -1 for the last) mapped onto the
   * backend's chunk protocol.
   */
  private async _upload(
    path: string,
    bucket: string,
    key: string,
    options: Partial<Contents.IModel>
  ): Promise<void> {
    const body = encodeContent(options);
    const chunk = options.chunk;
    if (chunk === undefined) {
      await this.api.uploadChunk(bucket, key, 1, null, true, body);
      return;
    }
    const last = chunk === -1;
    const pending = this._chunked.get(path);
    if (chunk === 1 && !last) {
      const reply = await this.api.uploadChunk(bucket, key, 1, null, false, body);
      this._chunked.set(path, { uploadId: reply.upload_id ?? '', part: 1 });
      return;
    }
    if (!pending) {
      // A single chunk marked last is a whole file.
      await this.api.uploadChunk(bucket, key, 1, null, true, body);
      return;
    }
    pending.part += 1;
    try {
      await this.api.uploadChunk(bucket, key, pending.part, pending.uploadId, last, body);
    } finally {
      if (last) {
        this._chunked.delete(path);
      }
    }
  }

  private _model(folder: string, entry: Entry): Contents.IModel {
    const path = paths.join(folder, entry.name);
    const isFolder = entry.kind !== 'object';
    const notebook = !isFolder && entry.name.endsWith('.ipynb');
    return {
      name: entry.name,
      path,
      type: isFolder ? 'directory' : notebook ? 'notebook' : 'file',
      writable: entry.kind !== 'bucket',
      created: entry.lastModified ?? '',
      last_modified: entry.lastModified ?? '',
      mimetype: isFolder ? '' : notebook ? 'application/x-ipynb+json' : 'text/plain',
      content: null,
      format: null,
      size: entry.size ?? undefined
    };
  }

  private _chunked = new Map<string, { uploadId: string; part: number }>();
  private _fileChanged = new Signal<this, Contents.IChangedArgs>(this);
  private _listingChanged = new Signal<this, string>(this);
  private _failed = new Signal<this, QuarryApiError>(this);
  private _isDisposed = false;
}

/** The bytes of a save request's content in its declared format. */
function encodeContent(options: Partial<Contents.IModel>): Uint8Array {
  const content = options.content;
  if (options.format === 'base64') {
    const binary = atob(String(content ?? ''));
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) {
      bytes[i] = binary.charCodeAt(i);
    }
    return bytes;
  }
  if (options.type === 'notebook' && content && typeof content === 'object') {
    // Trust stays in this browser; it is not stored into a bucket.
    return new TextEncoder().encode(JSON.stringify(withoutTrust(content as INotebookJson), null, 1));
  }
  if (options.format === 'json' || options.type === 'notebook') {
    return new TextEncoder().encode(JSON.stringify(content, null, 1));
  }
  return new TextEncoder().encode(String(content ?? ''));
}

function toBase64(bytes: Uint8Array): string {
  let binary = '';
  const step = 0x8000;
  for (let i = 0; i < bytes.length; i += step) {
    binary += String.fromCharCode(...bytes.subarray(i, i + step));
  }
  return btoa(binary);
}
