/**
 * Paged folder listings, kept per folder so "Load more" appends pages.
 *
 * JupyterLab's file browser asks its drive for a whole folder each time it
 * refreshes, which is how other S3 browsers end up capped (~1000 entries)
 * or frozen (walking 100k keys first). Here the drive answers from what has
 * been loaded so far, and only "Load more" fetches the next page. A folder
 * showing just its first page is re-read when it is older than `maxAgeMs`
 * (so other people's changes appear); one the user paged through is kept
 * until they refresh, so the list never shrinks under them.
 *
 * Pure code (no JupyterLab imports), unit-tested with node.
 */

/** One entry of a folder: a sub-folder or an object. */
export interface Entry {
  /** The last path segment. */
  name: string;
  /** The full key (folders end in `/`); `''` for buckets. */
  key: string;
  kind: 'folder' | 'object' | 'bucket';
  size: number | null;
  lastModified: string | null;
}

/** One page as the backend returns it. */
export interface Page {
  entries: Entry[];
  nextToken: string | null;
}

/** Fetches the page after `token` (`null` for the first). */
export type PageFetcher = (token: string | null) => Promise<Page>;

export interface FolderState {
  entries: Entry[];
  nextToken: string | null;
  pages: number;
  fetchedAt: number;
}

export class ListingCache {
  constructor(options: { maxAgeMs?: number; now?: () => number } = {}) {
    this._maxAgeMs = options.maxAgeMs ?? 30_000;
    this._now = options.now ?? (() => Date.now());
  }

  /**
   * The folder's entries loaded so far, fetching the first page when the
   * folder is new, was invalidated, or is a stale single page.
   */
  async list(folder: string, fetch: PageFetcher): Promise<FolderState> {
    const known = this._folders.get(folder);
    if (known && !this._isStale(known)) {
      return known;
    }
    return this._once(folder, async () => {
      const page = await fetch(null);
      const state: FolderState = {
        entries: dedupe([], page.entries),
        nextToken: page.nextToken,
        pages: 1,
        fetchedAt: this._now()
      };
      this._folders.set(folder, state);
      return state;
    });
  }

  /** Appends the next page; a no-op when everything is loaded. */
  async loadMore(folder: string, fetch: PageFetcher): Promise<FolderState> {
    const known = this._folders.get(folder);
    if (!known) {
      return this.list(folder, fetch);
    }
    if (known.nextToken === null) {
      return known;
    }
    const token = known.nextToken;
    return this._once(folder, async () => {
      const page = await fetch(token);
      const current = this._folders.get(folder) ?? known;
      const state: FolderState = {
        entries: dedupe(current.entries, page.entries),
        nextToken: page.nextToken,
        pages: current.pages + 1,
        fetchedAt: current.fetchedAt
      };
      this._folders.set(folder, state);
      return state;
    });
  }

  /** What is loaded for a folder, without fetching. */
  peek(folder: string): FolderState | undefined {
    return this._folders.get(folder);
  }

  /** Whether more pages can be loaded for a folder. */
  hasMore(folder: string): boolean {
    return (this._folders.get(folder)?.nextToken ?? null) !== null;
  }

  /** Forgets a folder (after a write in it, or on "Refresh"). */
  invalidate(folder: string): void {
    this._folders.delete(folder);
  }

  /** Forgets a folder and everything below it (after a folder delete/move). */
  invalidateTree(folder: string): void {
    for (const key of [...this._folders.keys()]) {
      if (key === folder || key.startsWith(`${folder}/`) || folder === '') {
        this._folders.delete(key);
      }
    }
  }

  /** Looks up an entry by name in a loaded folder. */
  find(folder: string, name: string): Entry | undefined {
    return this._folders.get(folder)?.entries.find(e => e.name === name);
  }

  private _isStale(state: FolderState): boolean {
    return state.pages === 1 && this._now() - state.fetchedAt > this._maxAgeMs;
  }

  /** One request per folder at a time: concurrent callers share it. */
  private _once(folder: string, run: () => Promise<FolderState>): Promise<FolderState> {
    const inFlight = this._inFlight.get(folder);
    if (inFlight) {
      return inFlight;
    }
    const promise = run().finally(() => this._inFlight.delete(folder));
    this._inFlight.set(folder, promise);
    return promise;
  }

  private _folders = new Map<string, FolderState>();
  private _inFlight = new Map<string, Promise<FolderState>>();
  private _maxAgeMs: number;
  private _now: () => number;
}

/**
 * Appends `more` to `entries`, skipping names already present (a folder
 * marker and a listed prefix can name the same folder).
 */
function dedupe(entries: Entry[], more: Entry[]): Entry[] {
  const seen = new Set(entries.map(e => `${e.kind === 'object' ? 'o' : 'f'}:${e.name}`));
  const out = entries.slice();
  for (const entry of more) {
    const id = `${entry.kind === 'object' ? 'o' : 'f'}:${entry.name}`;
    if (!seen.has(id)) {
      seen.add(id);
      out.push(entry);
    }
  }
  return out;
}
