/**
 * The S3 panel: JupyterLab's own file browser on the S3 drive, plus what
 * S3 needs beyond it — "Load more" for paged folders, cancellable chunked
 * uploads, a refresh that really re-reads S3, and toasts for failures.
 */

import { JupyterFrontEnd } from '@jupyterlab/application';
import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { Contents } from '@jupyterlab/services';
import { DirListing, FileBrowser, IFileBrowserFactory } from '@jupyterlab/filebrowser';
import {
  LabIcon,
  newFolderIcon,
  refreshIcon,
  ToolbarButton,
  fileUploadIcon
} from '@jupyterlab/ui-components';
import { PanelLayout, Widget } from '@lumino/widgets';

import { QuarryApi, QuarryApiError } from './api';
import { S3Drive } from './drive';
import { S3Navigator } from './navigator';
import { PreviewActions, PreviewPane } from './preview-pane';
import * as paths from './paths';
import { UploadList, Uploader } from './uploader';

const BUCKET_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M4 5c0-1.7 3.6-3 8-3s8 1.3 8 3l-2 14c0 1.4-2.7 3-6 3s-6-1.6-6-3L4 5zm2.3.4C7.4 6.3 9.5 7 12 7s4.6-.7 5.7-1.6C16.6 4.6 14.5 4 12 4s-4.6.6-5.7 1.4z"/>
  </g>
</svg>`;

export const s3Icon = new LabIcon({ name: 'quarry:s3', svgstr: BUCKET_SVG });

/** The same message again within this window is not toasted twice. */
const TOAST_DEDUPE_MS = 5_000;

export interface S3BrowserOptions {
  app: JupyterFrontEnd;
  factory: IFileBrowserFactory;
  drive: S3Drive;
  api: QuarryApi;
  /** Called after an S3 failure (the status item re-checks credentials). */
  onFailure?: (error: QuarryApiError) => void;
  /** What the preview pane's buttons do. */
  previewActions: PreviewActions;
}

export function createS3Browser(options: S3BrowserOptions): { browser: FileBrowser; uploader: Uploader } {
  const { factory, drive, api } = options;
  const browser = factory.createFileBrowser('quarry-s3-browser', {
    driveName: drive.name,
    // Listings come from the drive's page cache; a slow poll only re-reads
    // folders showing a single stale page.
    refreshInterval: 30_000
  });
  browser.addClass('quarry-S3Browser');
  browser.title.icon = s3Icon;
  browser.title.caption = 'S3';
  browser.showFileFilter = true;
  browser.showFileSizeColumn = true;
  browser.showLastModifiedColumn = true;

  const uploader = new Uploader(api);
  routeUploads(browser, drive, uploader);
  confirmDeletes(browser);
  addToolbar(browser, drive, uploader);
  const preview = new PreviewPane(api, options.previewActions);
  const navigator = new S3Navigator(browser, api, path => {
    void browser.model.cd(`/${paths.dirname(path)}`).then(() => {
      void browser.selectItemByName(paths.basename(path));
      void preview.showObject(path);
    });
  });
  // Below the toolbar, above the breadcrumbs and the listing.
  (browser.layout as PanelLayout).insertWidget(1, navigator);
  browser.addWidget(new LoadMoreBar(browser, drive));
  browser.addWidget(preview);
  browser.addWidget(new UploadList(uploader));
  followSelection(browser, preview);
  reportFailures(drive, options.onFailure);
  return { browser, uploader };
}

/** Previews the one selected object; a folder, or several, hide the pane. */
function followSelection(browser: FileBrowser, preview: PreviewPane): void {
  const update = () => {
    const selected = Array.from(browser.selectedItems());
    const only = selected.length === 1 && selected[0].type !== 'directory' ? selected[0] : null;
    void preview.showObject(only ? paths.normalize(only.path) : null);
  };
  // The listing has no selection signal: read it after each click or key.
  for (const event of ['click', 'keyup'] as const) {
    browser.node.addEventListener(event, target => {
      if ((target.target as HTMLElement).closest('.jp-DirListing')) {
        window.setTimeout(update, 0);
      }
    });
  }
  browser.model.pathChanged.connect(() => void preview.showObject(null));
}

/**
 * The file browser's own upload paths (drag-and-drop onto the listing)
 * call `model.upload`; send those through the cancellable uploader.
 */
function routeUploads(browser: FileBrowser, drive: S3Drive, uploader: Uploader): void {
  const model = browser.model;
  model.upload = async (file: File, path?: string): Promise<Contents.IModel> => {
    const folder = paths.normalize(path ?? model.path);
    const task = await uploader.upload(file, folder);
    if (task.state === 'failed') {
      Notification.error(`Could not upload ${file.name}: ${task.error}`, { autoClose: 8000 });
    }
    if (task.state === 'done') {
      drive.forget(folder);
      await model.refresh();
    }
    return {
      name: file.name,
      path: task.path,
      type: 'file',
      writable: true,
      created: '',
      last_modified: '',
      mimetype: '',
      content: null,
      format: null
    };
  };
}

/**
 * Deleting in S3 is permanent and a folder goes with everything under it;
 * JupyterLab's own dialog may say "Move to Trash" (a server setting for
 * local files), so the S3 browser asks its own question.
 */
function confirmDeletes(browser: FileBrowser): void {
  // `listing` is protected; the Delete key and the context menu both end
  // in its `delete()`, so this one override covers them.
  const listing = (browser as unknown as { listing: DirListing }).listing;
  listing.delete = async (): Promise<void> => {
    const items = Array.from(browser.selectedItems());
    if (items.length === 0) {
      return;
    }
    const folders = items.filter(item => item.type === 'directory').length;
    const what =
      items.length === 1
        ? paths.toS3Url(items[0].path, folders === 1)
        : `these ${items.length} items`;
    const under = folders === 0 ? '' : folders === 1 && items.length === 1 ? ' and everything under it' : ' (folders with everything under them)';
    const result = await showDialog({
      title: 'Delete permanently?',
      body: `Delete ${what}${under}? S3 has no trash: this cannot be undone.`,
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Delete' })]
    });
    if (!result.button.accept) {
      return;
    }
    for (const item of items) {
      try {
        await browser.model.manager.deleteFile(item.path);
      } catch (error) {
        Notification.error(error instanceof Error ? error.message : String(error), { autoClose: 8000 });
      }
    }
    await browser.model.refresh();
  };
}

function addToolbar(browser: FileBrowser, drive: S3Drive, uploader: Uploader): void {
  const input = document.createElement('input');
  input.type = 'file';
  input.multiple = true;
  input.className = 'quarry-UploadInput';
  input.onchange = () => {
    const files = Array.from(input.files ?? []);
    input.value = '';
    for (const file of files) {
      void browser.model.upload(file);
    }
  };
  browser.node.appendChild(input);

  browser.toolbar.addItem(
    'new-folder',
    new ToolbarButton({
      icon: newFolderIcon,
      tooltip: 'New folder',
      onClick: () => void browser.createNewDirectory()
    })
  );
  browser.toolbar.addItem(
    'upload',
    new ToolbarButton({
      icon: fileUploadIcon,
      tooltip: 'Upload files to this folder',
      onClick: () => {
        if (!paths.parse(browser.model.path).bucket) {
          Notification.warning('Open a bucket first: files are uploaded into a bucket.', { autoClose: 4000 });
          return;
        }
        input.click();
      }
    })
  );
  browser.toolbar.addItem(
    'refresh',
    new ToolbarButton({
      icon: refreshIcon,
      tooltip: 'Re-read this folder from S3',
      onClick: () => {
        drive.forget(browser.model.path);
        void browser.model.refresh();
      }
    })
  );
}

/**
 * "Showing 500 items · Load more" under the listing, while the folder has
 * more pages.
 */
class LoadMoreBar extends Widget {
  constructor(
    private readonly _browser: FileBrowser,
    private readonly _drive: S3Drive
  ) {
    super();
    this.addClass('quarry-LoadMore');
    this._count = document.createElement('span');
    this._count.className = 'quarry-LoadMore-count';
    this._button = document.createElement('button');
    this._button.className = 'jp-Button jp-mod-styled jp-mod-accept quarry-LoadMore-button';
    this._button.textContent = 'Load more';
    this._button.onclick = () => void this._loadMore();
    this.node.append(this._count, this._button);
    _browser.model.pathChanged.connect(this._update, this);
    _browser.model.refreshed.connect(this._update, this);
    this._update();
  }

  private async _loadMore(): Promise<void> {
    this._button.disabled = true;
    this._button.textContent = 'Loading…';
    try {
      await this._drive.loadMore(this._browser.model.path);
      await this._browser.model.refresh();
    } catch {
      // Already reported by the drive.
    } finally {
      this._button.disabled = false;
      this._button.textContent = 'Load more';
      this._update();
    }
  }

  private _update(): void {
    const folder = paths.normalize(this._browser.model.path);
    const loaded = this._drive.listings.peek(folder)?.entries.length ?? 0;
    const more = this._drive.hasMore(folder);
    this.setHidden(!more);
    this._count.textContent = `Showing ${loaded.toLocaleString()} items; there are more.`;
  }

  private _count: HTMLSpanElement;
  private _button: HTMLButtonElement;
}

/** One toast per failure (not per retry), worded by the backend. */
function reportFailures(drive: S3Drive, onFailure?: (error: QuarryApiError) => void): void {
  let last = { message: '', at: 0 };
  drive.failed.connect((_, error) => {
    const now = Date.now();
    if (error.message === last.message && now - last.at < TOAST_DEDUPE_MS) {
      return;
    }
    last = { message: error.message, at: now };
    Notification.error(error.message, { autoClose: 8000 });
    onFailure?.(error);
  });
}
