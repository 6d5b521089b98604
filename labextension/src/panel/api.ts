/**
 * The panel backend's REST API (`quarry serve`, proxied by Jupyter Server
 * under `<base_url>quarry/`), typed from its OpenAPI document.
 *
 * Every failure becomes a {@link QuarryApiError} whose message is one
 * sentence a user can act on: the backend already words S3 refusals that
 * way, and this module words the failures the backend cannot (network
 * down, backend not starting, login expired).
 */

import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import type { components } from './api-types';

export type Bucket = components['schemas']['Bucket'];
export type Listing = components['schemas']['Listing'];
export type ObjectMeta = components['schemas']['ObjectMeta'];
export type UploadProgress = components['schemas']['UploadProgress'];
export type WhoAmIReply = components['schemas']['WhoAmI'];
export type CopyResult = components['schemas']['CopyResult'];
export type Preview = components['schemas']['Preview'];

/** A failed API call, with the backend's stable code and its sentence. */
export class QuarryApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string
  ) {
    super(message);
    this.name = 'QuarryApiError';
  }
}

type Params = Record<string, string | number | boolean | null | undefined>;

export class QuarryApi {
  constructor(readonly settings: ServerConnection.ISettings = ServerConnection.makeSettings()) {}

  /** The absolute URL of an API route with its query string. */
  url(route: string, params: Params = {}): string {
    const query = Object.entries(params)
      .filter(([, value]) => value !== undefined && value !== null)
      .map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(String(value))}`)
      .join('&');
    const base = URLExt.join(this.settings.baseUrl, 'quarry', 'api', route);
    return query ? `${base}?${query}` : base;
  }

  buckets(): Promise<{ buckets: Bucket[] }> {
    return this.request('GET', 'buckets');
  }

  objects(bucket: string, prefix: string, token: string | null, limit?: number): Promise<Listing> {
    return this.request('GET', 'objects', { bucket, prefix, token, limit });
  }

  /** First rows of a table file (with a Parquet file's footer), or the head of a text. */
  preview(bucket: string, key: string): Promise<Preview> {
    return this.request('GET', 'preview', { bucket, key });
  }

  object(bucket: string, key: string): Promise<ObjectMeta> {
    return this.request('GET', 'object', { bucket, key });
  }

  /** The object's bytes, streamed through the backend (same-origin). */
  async read(bucket: string, key: string): Promise<ArrayBuffer> {
    const response = await this.fetch('GET', 'download', { bucket, key, mode: 'stream' });
    return response.arrayBuffer();
  }

  /** One upload chunk; the first (no `uploadId`) starts the upload. */
  uploadChunk(
    bucket: string,
    key: string,
    part: number,
    uploadId: string | null,
    last: boolean,
    body: Blob | ArrayBuffer | Uint8Array,
    signal?: AbortSignal
  ): Promise<UploadProgress> {
    return this.request(
      'PUT',
      'upload',
      { bucket, key, part, upload_id: uploadId, last: last ? 'true' : undefined },
      body as BodyInit,
      signal
    );
  }

  cancelUpload(uploadId: string): Promise<unknown> {
    return this.request('DELETE', 'upload', { upload_id: uploadId });
  }

  /** Deletes an object, or a whole folder when `key` ends in `/`. */
  remove(bucket: string, key: string): Promise<{ deleted: number }> {
    return this.request('DELETE', 'object', { bucket, key });
  }

  folder(bucket: string, prefix: string): Promise<unknown> {
    return this.request('POST', 'folder', { bucket, prefix });
  }

  copy(bucket: string, key: string, toBucket: string, toKey: string): Promise<CopyResult> {
    return this.request('POST', 'copy', { bucket, key, to_bucket: toBucket, to_key: toKey });
  }

  move(bucket: string, key: string, toBucket: string, toKey: string): Promise<CopyResult> {
    return this.request('POST', 'move', { bucket, key, to_bucket: toBucket, to_key: toKey });
  }

  whoami(): Promise<WhoAmIReply> {
    return this.request('GET', 'whoami');
  }

  async request<T>(
    method: string,
    route: string,
    params: Params = {},
    body?: BodyInit,
    signal?: AbortSignal
  ): Promise<T> {
    const response = await this.fetch(method, route, params, body, signal);
    return (await response.json()) as T;
  }

  /** A request that resolves only for 2xx answers. */
  async fetch(
    method: string,
    route: string,
    params: Params = {},
    body?: BodyInit,
    signal?: AbortSignal
  ): Promise<Response> {
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(
        this.url(route, params),
        { method, body, signal, cache: 'no-store' },
        this.settings
      );
    } catch (error) {
      if (signal?.aborted) {
        throw new QuarryApiError(0, 'cancelled', 'Cancelled.');
      }
      throw new QuarryApiError(
        0,
        'unreachable',
        'The Jupyter server could not be reached: check your connection and that your server is still running.'
      );
    }
    if (response.ok) {
      return response;
    }
    throw await explain(response);
  }
}

/** Turns a non-2xx answer into one sentence. */
async function explain(response: Response): Promise<QuarryApiError> {
  const text = await response.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { error?: string; message?: string };
    if (body && typeof body.message === 'string' && typeof body.error === 'string') {
      return new QuarryApiError(response.status, body.error, body.message);
    }
  } catch {
    // Not the backend's JSON: the proxy or Jupyter Server answered.
  }
  switch (response.status) {
    case 403:
    case 401:
      return new QuarryApiError(
        response.status,
        'login',
        'Jupyter refused the request: your login may have expired; reload the page to sign in again.'
      );
    case 502:
    case 503:
    case 504:
    case 599:
      return new QuarryApiError(
        response.status,
        'backend_unavailable',
        'The Quarry S3 backend is not answering; it restarts on the next request, so try again in a moment.'
      );
    case 404:
      return new QuarryApiError(
        response.status,
        'backend_missing',
        'The Quarry S3 backend is not installed on this server (no /quarry/ route): install quarry-jupyterlab and restart it.'
      );
    default:
      return new QuarryApiError(
        response.status,
        'http',
        `The Quarry S3 backend answered HTTP ${response.status}.`
      );
  }
}
