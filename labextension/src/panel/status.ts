/**
 * The status bar item: who the S3 panel acts as and how long the
 * credentials last, from `api/whoami`, counting down between polls.
 */

import { Widget } from '@lumino/widgets';

import { QuarryApi, QuarryApiError } from './api';
import { describe, WhoAmI } from './expiry';

/** How often the backend is asked (it renews credentials when due). */
const POLL_MS = 60_000;
/** How often the countdown redraws. */
const TICK_MS = 5_000;

export class CredentialStatusItem extends Widget {
  constructor(private readonly _api: QuarryApi) {
    super();
    this.addClass('quarry-CredentialStatus');
    this.node.textContent = 'S3 …';
    void this.refresh();
    this._poll = window.setInterval(() => void this.refresh(), POLL_MS);
    this._tick = window.setInterval(() => this._render(), TICK_MS);
  }

  /** Asks the backend again (also after an S3 failure in the panel). */
  async refresh(): Promise<void> {
    try {
      this._whoami = await this._api.whoami();
      this._fetchedAt = Date.now();
      this._unreachable = null;
    } catch (error) {
      this._unreachable = error instanceof QuarryApiError ? error.message : String(error);
    }
    this._render();
  }

  dispose(): void {
    window.clearInterval(this._poll);
    window.clearInterval(this._tick);
    super.dispose();
  }

  private _render(): void {
    this.node.classList.remove('quarry-mod-ok', 'quarry-mod-warning', 'quarry-mod-error');
    if (this._unreachable !== null) {
      this.node.textContent = 'S3 backend unavailable';
      this.node.title = this._unreachable;
      this.node.classList.add('quarry-mod-error');
      return;
    }
    if (!this._whoami) {
      return;
    }
    const status = describe(this._whoami, (Date.now() - this._fetchedAt) / 1000);
    this.node.textContent = status.text;
    this.node.title = status.title;
    this.node.classList.add(`quarry-mod-${status.level}`);
  }

  private _whoami: WhoAmI | null = null;
  private _fetchedAt = 0;
  private _unreachable: string | null = null;
  private _poll: number;
  private _tick: number;
}
