/**
 * The `quarry.results` comm: one per kernel connection, shared by every
 * grid of that notebook. Requests carry a sequence number and answers are
 * matched to it, so a slow answer to an old request never overwrites a
 * newer one. A kernel restart closes the kernel's comms; the next request
 * opens a fresh one (and the kernel says the old result is gone).
 */

import { Kernel, KernelMessage } from '@jupyterlab/services';

import { JSONObject } from '@lumino/coreutils';

import { ActionsAnswer, PageAnswer, PageQuery } from './grid-model';

const TARGET = 'quarry.results';

/** How long a page may take before the grid says so (a sort of 10 M rows is seconds). */
const ANSWER_TIMEOUT_MS = 120_000;

class ResultsChannel {
  private comm: Kernel.IComm | null = null;
  private seq = 0;
  private pending = new Map<number, (answer: PageAnswer) => void>();
  private restartListeners = new Set<() => void>();

  constructor(private readonly kernel: Kernel.IKernelConnection) {
    kernel.statusChanged.connect((_, status) => {
      if (status === 'restarting' || status === 'autorestarting' || status === 'dead') {
        this.reset('The kernel restarted; this result is gone. Run the cell again to explore it.');
        this.restartListeners.forEach(listener => listener());
      }
    });
  }

  private open(): Kernel.IComm {
    if (this.comm && !this.comm.isDisposed) {
      return this.comm;
    }
    const comm = this.kernel.createComm(TARGET);
    comm.onMsg = (msg: KernelMessage.ICommMsgMsg) => {
      const data = msg.content.data as PageAnswer & { seq?: number };
      const resolve = typeof data.seq === 'number' ? this.pending.get(data.seq) : undefined;
      if (resolve) {
        this.pending.delete(data.seq as number);
        resolve(data);
      }
    };
    comm.onClose = () => {
      this.comm = null;
      this.reset('The kernel closed the connection to this result.');
    };
    comm.open({});
    this.comm = comm;
    return comm;
  }

  /** Answers every waiting request with `error` (marked gone). */
  private reset(error: string): void {
    for (const resolve of this.pending.values()) {
      resolve({ error, gone: true });
    }
    this.pending.clear();
    this.comm = null;
  }

  /** Calls `listener` when the kernel restarts; returns the way to stop. */
  onRestart(listener: () => void): () => void {
    this.restartListeners.add(listener);
    return () => this.restartListeners.delete(listener);
  }

  ask(resultId: string, query: PageQuery): Promise<PageAnswer> {
    return this.request<PageAnswer>('page', resultId, query);
  }

  /**
   * The cells the grid's Chart, Profile and Export buttons insert, from the
   * kernel that holds the result: never from the saved output.
   */
  actions(resultId: string, view: Pick<PageQuery, 'sort' | 'filters'>): Promise<ActionsAnswer> {
    return this.request<ActionsAnswer>('actions', resultId, view);
  }

  private request<T extends { error?: string }>(request: string, resultId: string, fields: object): Promise<T> {
    const seq = ++this.seq;
    const answer = new Promise<T>(resolve => {
      this.pending.set(seq, resolve as (answer: PageAnswer) => void);
      setTimeout(() => {
        if (this.pending.delete(seq)) {
          resolve({ error: 'The kernel did not answer within two minutes (is it busy with another cell?).' } as T);
        }
      }, ANSWER_TIMEOUT_MS);
    });
    try {
      const message = { request, result_id: resultId, seq, ...fields };
      this.open().send(message as unknown as JSONObject);
    } catch (error) {
      this.pending.delete(seq);
      return Promise.resolve({ error: `Could not reach the kernel: ${error instanceof Error ? error.message : error}.` } as T);
    }
    return answer;
  }
}

const channels = new WeakMap<Kernel.IKernelConnection, ResultsChannel>();

/** The shared channel to `kernel`'s held results. */
export function resultsChannel(kernel: Kernel.IKernelConnection): ResultsChannel {
  let channel = channels.get(kernel);
  if (!channel) {
    channel = new ResultsChannel(kernel);
    channels.set(kernel, channel);
  }
  return channel;
}

export type { ResultsChannel };
