/**
 * Quarry's JupyterLab extension: the S3 panel (a file browser on an S3
 * drive), its commands, the credentials status bar item, and the result
 * grid that explores a Quarry result over its kernel.
 */

import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { Clipboard, Notification } from '@jupyterlab/apputils';
import { IDefaultFileBrowser, IFileBrowserFactory } from '@jupyterlab/filebrowser';
import { INotebookTracker } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { IStatusBar } from '@jupyterlab/statusbar';

import { QuarryApi } from './panel/api';
import { keepDefaultBrowserCurrent } from './panel/browser-focus';
import { S3Drive } from './panel/drive';
import { DataExplorer } from './notebook/explorer';
import { gridRendererFactory } from './notebook/grid';
import { notebookHost } from './notebook/notebook-host';
import { createS3Browser } from './panel/panel';
import * as paths from './panel/paths';
import { cellInNotebook, queryInNotebook } from './notebook/query';
import { CredentialStatusItem } from './panel/status';

/** Command ids, for the context menu and for tests. */
export namespace CommandIDs {
  export const copyUrl = 'quarry:copy-s3-url';
  export const query = 'quarry:query-in-notebook';
  export const refresh = 'quarry:refresh-s3';
  export const loadMore = 'quarry:load-more';
  export const explorerSelect = 'quarry:explorer-select';
  export const explorerProfile = 'quarry:explorer-profile';
  export const explorerChart = 'quarry:explorer-chart';
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'quarry-jupyterlab:plugin',
  description: 'Browse, open, upload and query S3 from JupyterLab.',
  autoStart: true,
  requires: [IFileBrowserFactory, INotebookTracker, IRenderMimeRegistry],
  optional: [ILayoutRestorer, IStatusBar, IDefaultFileBrowser],
  activate: (
    app: JupyterFrontEnd,
    factory: IFileBrowserFactory,
    notebooks: INotebookTracker,
    rendermime: IRenderMimeRegistry,
    restorer: ILayoutRestorer | null,
    statusBar: IStatusBar | null,
    defaultBrowser: IDefaultFileBrowser | null
  ) => {
    // Before any notebook opens: each notebook's registry is a clone of this one.
    rendermime.addFactory(gridRendererFactory(notebookHost(notebooks)));

    const api = new QuarryApi(app.serviceManager.serverSettings);
    const drive = new S3Drive({ api });
    app.serviceManager.contents.addDrive(drive);

    const status = statusBar ? new CredentialStatusItem(api) : null;
    const notebookFailed = (error: unknown) =>
      Notification.error(`Could not open a Quarry notebook: ${error instanceof Error ? error.message : error}`);
    const previewActions = {
      query: (url: string) => void queryInNotebook(app, notebooks, url).catch(notebookFailed),
      profile: (url: string) =>
        void cellInNotebook(app, notebooks, `%profile '${url.replace(/'/g, "''")}'`).catch(notebookFailed)
    };
    const { browser } = createS3Browser({
      app,
      factory,
      drive,
      api,
      onFailure: () => void status?.refresh(),
      previewActions
    });
    keepDefaultBrowserCurrent(factory, browser, defaultBrowser);
    app.shell.add(browser, 'left', { rank: 110 });
    restorer?.add(browser, 'quarry-s3-browser');

    if (statusBar && status) {
      statusBar.registerStatusItem('quarry-jupyterlab:credentials', {
        item: status,
        align: 'left',
        rank: 50
      });
    }

    /** The selected item in the S3 browser, if it is an object. */
    const selectedObject = () => {
      const item = browser.selectedItems().next();
      return item.done || item.value.type === 'directory' ? null : item.value;
    };

    app.commands.addCommand(CommandIDs.copyUrl, {
      label: 'Copy S3 URL',
      caption: 'Copy the s3:// URL of the selected item',
      execute: () => {
        const item = browser.selectedItems().next();
        const path = item.done ? browser.model.path : item.value.path;
        const isFolder = item.done || item.value.type === 'directory';
        const url = paths.toS3Url(path, isFolder);
        Clipboard.copyToSystem(url);
        Notification.info(`Copied ${url}`, { autoClose: 2000 });
        return url;
      }
    });

    app.commands.addCommand(CommandIDs.query, {
      label: 'Query in Notebook',
      caption: "Run SELECT * FROM 's3://…' LIMIT 100 in a Quarry notebook",
      isVisible: () => {
        const item = selectedObject();
        return !!item && paths.isQueryable(item.name);
      },
      execute: async args => {
        const path = (args.path as string | undefined) ?? selectedObject()?.path;
        if (!path) {
          return;
        }
        try {
          await queryInNotebook(app, notebooks, paths.toS3Url(path));
        } catch (error) {
          Notification.error(`Could not open a Quarry notebook: ${error instanceof Error ? error.message : error}`);
        }
      }
    });

    const explorer = new DataExplorer(notebooks);
    app.shell.add(explorer, 'left', { rank: 111 });
    restorer?.add(explorer, 'quarry-data-explorer');
    const explorerEntries: [string, string, 'select' | 'profile' | 'chart'][] = [
      [CommandIDs.explorerSelect, 'SELECT … LIMIT 100', 'select'],
      [CommandIDs.explorerProfile, 'Profile', 'profile'],
      [CommandIDs.explorerChart, 'Chart', 'chart']
    ];
    explorerEntries.forEach(([id, label, action], rank) => {
      app.commands.addCommand(id, { label, execute: () => explorer.run(action) });
      app.contextMenu.addItem({ command: id, selector: '.quarry-Explorer-line', rank });
    });

    const selector = '.quarry-S3Browser .jp-DirListing-item[data-isdir]';
    app.contextMenu.addItem({ command: CommandIDs.query, selector, rank: 1 });
    app.contextMenu.addItem({ command: CommandIDs.copyUrl, selector, rank: 2 });
  }
};

export default plugin;
