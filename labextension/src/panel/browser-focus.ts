/**
 * Keeps JupyterLab's "current file browser" honest with an S3 panel beside
 * it.
 *
 * JupyterLab's create commands (the Launcher's Notebook cards, File › New,
 * a new text file) put what they create in the *current* file browser of
 * `IFileBrowserFactory.tracker` when they are given no folder — and the
 * Launcher gives none at the root. The tracker's current browser is the
 * one focused or added last, so in a fresh workspace (the S3 browser is
 * added after the default one) and after any click in the S3 panel, new
 * notebooks went to S3's root and failed ("Open a bucket first").
 *
 * The tracker has no way to leave a browser out of creation, and the S3
 * browser must stay tracked: JupyterLab's own context menu commands
 * (Rename, Delete, Download, Open With) find their browser through it. So
 * the S3 browser counts as current only while the user's last interaction
 * was inside it — or inside a context menu opened from it. A click
 * anywhere else (the Launcher, the menu bar, a notebook, the palette)
 * makes JupyterLab's own file browser current again; creating something in
 * S3 is a deliberate act in the S3 panel (its toolbar and its folders).
 */

import type { FileBrowser, IFileBrowserFactory } from '@jupyterlab/filebrowser';

/** Where an interaction happened, for deciding the current browser. */
export type Place = 's3' | 'menu' | 'elsewhere';

/**
 * The browser creation and file commands should use: the tracker's choice,
 * unless that is the S3 browser and the user has since worked elsewhere.
 */
export function chooseBrowser<T>(tracked: T | null, s3: T, fallback: T | null, lastPlace: Place): T | null {
  if (tracked === s3 && lastPlace === 'elsewhere') {
    return fallback ?? tracked;
  }
  return tracked;
}

/** Classifies an event target: the S3 browser, a popup menu, or elsewhere. */
function placeOf(target: EventTarget | null, s3: FileBrowser): Place {
  if (!(target instanceof Node)) {
    return 'elsewhere';
  }
  if (s3.node.contains(target)) {
    return 's3';
  }
  // A popup menu (context menu or an open menu-bar menu) keeps the browser
  // it was opened from; the menu bar itself is "elsewhere".
  const element = target instanceof Element ? target : target.parentElement;
  return element?.closest('.lm-Menu') ? 'menu' : 'elsewhere';
}

/**
 * Makes `factory.tracker.currentWidget` answer the default browser unless
 * the user's last interaction was in the S3 browser (see the module doc).
 */
export function keepDefaultBrowserCurrent(
  factory: IFileBrowserFactory,
  s3: FileBrowser,
  defaultBrowser: FileBrowser | null
): void {
  let lastPlace: Place = 'elsewhere';
  const note = (event: Event) => {
    const place = placeOf(event.target, s3);
    if (place !== 'menu') {
      lastPlace = place;
    }
  };
  // Capture phase: seen before any handler can stop the event.
  for (const type of ['pointerdown', 'contextmenu', 'keydown', 'focusin'] as const) {
    document.addEventListener(type, note, true);
  }
  const tracker = factory.tracker;
  const descriptor = findGetter(tracker, 'currentWidget');
  if (!descriptor) {
    return;
  }
  Object.defineProperty(tracker, 'currentWidget', {
    configurable: true,
    get: () => chooseBrowser(descriptor.call(tracker) as FileBrowser | null, s3, defaultBrowser, lastPlace)
  });
}

function findGetter(object: object, name: string): (() => unknown) | null {
  for (let proto = Object.getPrototypeOf(object); proto; proto = Object.getPrototypeOf(proto)) {
    const descriptor = Object.getOwnPropertyDescriptor(proto, name);
    if (descriptor?.get) {
      return descriptor.get;
    }
  }
  return null;
}
