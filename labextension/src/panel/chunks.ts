/**
 * How a file is cut into upload chunks.
 *
 * jupyter-server-proxy buffers whole request bodies, so chunks stay small;
 * the backend joins them into S3 parts of at least 5 MiB. 8 MiB chunks give
 * progress steps a user can see and keep a 10 GiB file at ~1,300 requests.
 *
 * Pure code, unit-tested with node.
 */

export const CHUNK_SIZE = 8 * 1024 * 1024;

export interface Chunk {
  /** 1-based, as the backend numbers them. */
  part: number;
  start: number;
  end: number;
  last: boolean;
}

/** The chunks of a file of `size` bytes (one empty chunk for an empty file). */
export function planChunks(size: number, chunkSize = CHUNK_SIZE): Chunk[] {
  if (size <= 0) {
    return [{ part: 1, start: 0, end: 0, last: true }];
  }
  const chunks: Chunk[] = [];
  for (let start = 0, part = 1; start < size; start += chunkSize, part++) {
    const end = Math.min(start + chunkSize, size);
    chunks.push({ part, start, end, last: end === size });
  }
  return chunks;
}

/** `1.5 MiB` style sizes for progress lines. */
export function humanBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}
