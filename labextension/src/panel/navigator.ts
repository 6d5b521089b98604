/**
 * The S3 panel's way to go anywhere: a box that takes `s3://bucket/prefix`
 * (Enter opens it, even when ListBuckets does not show the bucket — common
 * on MinIO, where a policy grants a prefix but not the bucket list) or
 * text to search the current folder by key prefix as you type (S3's own
 * ListObjectsV2 prefix, so it scales to any folder size); and pinned
 * locations, kept in this browser.
 */

import { Notification } from '@jupyterlab/apputils';
import { FileBrowser } from '@jupyterlab/filebrowser';
import { Widget } from '@lumino/widgets';

import { QuarryApi } from './api';
import * as paths from './paths';

const PINS_KEY = 'quarry:s3-pins';
/** Matches shown for a search (one ListObjectsV2 page). */
const SEARCH_LIMIT = 100;
const SEARCH_DELAY_MS = 250;

/** `s3://b/p/q` → drive path `b/p/q`; `null` when it is not an S3 URL. */
export function drivePathOf(url: string): string | null {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url.trim());
  if (!match) {
    return null;
  }
  return paths.join(match[1], match[2]);
}

export class S3Navigator extends Widget {
  private readonly input = document.createElement('input');
  private readonly pinButton = document.createElement('button');
  private readonly pinsList = document.createElement('div');
  private readonly results = document.createElement('div');
  private searchTimer = 0;
  private searchSeq = 0;

  constructor(
    private readonly browser: FileBrowser,
    private readonly api: QuarryApi,
    private readonly open: (path: string) => void
  ) {
    super();
    this.addClass('quarry-Navigator');
    const row = document.createElement('div');
    row.className = 'quarry-Navigator-row';
    this.input.className = 'quarry-Goto';
    this.input.placeholder = 'Go to s3://bucket/prefix, or type to search here';
    this.input.spellcheck = false;
    this.input.addEventListener('keydown', event => this.onKey(event));
    this.input.addEventListener('input', () => this.scheduleSearch());
    this.pinButton.className = 'quarry-Pin';
    this.pinButton.addEventListener('click', () => this.togglePin());
    row.append(this.input, this.pinButton);
    this.results.className = 'quarry-SearchResults';
    this.pinsList.className = 'quarry-Pins';
    this.node.append(row, this.results, this.pinsList);
    browser.model.pathChanged.connect(() => this.drawPins());
    this.drawPins();
  }

  private onKey(event: KeyboardEvent): void {
    if (event.key === 'Escape') {
      this.input.value = '';
      this.results.replaceChildren();
      return;
    }
    if (event.key !== 'Enter') {
      return;
    }
    const target = drivePathOf(this.input.value);
    if (target !== null) {
      this.input.value = '';
      this.results.replaceChildren();
      void this.go(target);
    }
  }

  /** Opens a folder by its drive path, saying so when S3 refuses. */
  private async go(path: string): Promise<void> {
    try {
      // cd resolves against the current drive: '/bucket/prefix' is absolute there.
      await this.browser.model.cd(`/${path}`);
    } catch (error) {
      Notification.error(`Could not open ${paths.toS3Url(path, true)}: ${error instanceof Error ? error.message : error}`, {
        autoClose: 8000
      });
    }
  }

  private scheduleSearch(): void {
    window.clearTimeout(this.searchTimer);
    const text = this.input.value;
    if (!text || text.startsWith('s3:')) {
      this.results.replaceChildren();
      return;
    }
    this.searchTimer = window.setTimeout(() => void this.search(text), SEARCH_DELAY_MS);
  }

  /** Lists the current folder's keys that start with `text`. */
  private async search(text: string): Promise<void> {
    const { bucket, key } = paths.parse(this.browser.model.path);
    if (!bucket) {
      this.results.textContent = 'Open a bucket to search it by key prefix.';
      return;
    }
    const seq = ++this.searchSeq;
    const prefix = paths.folderPrefix(key) + text;
    this.results.dataset.loading = 'true';
    try {
      const listing = await this.api.objects(bucket, prefix, null, SEARCH_LIMIT);
      if (seq !== this.searchSeq) {
        return;
      }
      const found = [
        ...listing.prefixes.map(p => ({ path: paths.join(bucket, p), folder: true })),
        ...listing.objects.map(o => ({ path: paths.join(bucket, o.key), folder: false }))
      ];
      const items = found.map(({ path, folder }) => {
        const item = document.createElement('div');
        item.className = 'quarry-SearchResult';
        item.dataset.path = path;
        item.textContent = paths.basename(path) + (folder ? '/' : '');
        item.addEventListener('click', () => (folder ? void this.go(path) : this.open(path)));
        return item;
      });
      const summary = document.createElement('div');
      summary.className = 'quarry-SearchSummary';
      summary.textContent = found.length
        ? `${found.length}${listing.next_token ? '+' : ''} starting with “${text}”`
        : `Nothing here starts with “${text}”.`;
      this.results.replaceChildren(summary, ...items);
    } catch (error) {
      if (seq === this.searchSeq) {
        this.results.textContent = error instanceof Error ? error.message : String(error);
      }
    } finally {
      if (seq === this.searchSeq) {
        delete this.results.dataset.loading;
      }
    }
  }

  private pins(): string[] {
    try {
      const stored = JSON.parse(window.localStorage.getItem(PINS_KEY) ?? '[]');
      return Array.isArray(stored) ? stored.filter(p => typeof p === 'string') : [];
    } catch {
      return [];
    }
  }

  private savePins(pins: string[]): void {
    window.localStorage.setItem(PINS_KEY, JSON.stringify(pins));
    this.drawPins();
  }

  private togglePin(): void {
    const here = paths.normalize(this.browser.model.path);
    if (!here) {
      return;
    }
    const pins = this.pins();
    this.savePins(pins.includes(here) ? pins.filter(p => p !== here) : [...pins, here]);
  }

  private drawPins(): void {
    const here = paths.normalize(this.browser.model.path);
    const pins = this.pins();
    const pinned = pins.includes(here);
    this.pinButton.textContent = pinned ? 'Unpin' : 'Pin';
    this.pinButton.title = pinned ? 'Remove this folder from the pinned locations' : 'Pin this folder';
    this.pinButton.disabled = !here;
    this.pinsList.replaceChildren(
      ...pins.map(path => {
        const chip = document.createElement('span');
        chip.className = 'quarry-PinChip';
        chip.dataset.path = path;
        chip.textContent = paths.toS3Url(path, true);
        chip.title = `Open ${paths.toS3Url(path, true)}`;
        chip.addEventListener('click', () => void this.go(path));
        return chip;
      })
    );
  }
}
