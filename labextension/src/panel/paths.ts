/**
 * Paths in the S3 drive, and what can be done with the object at one.
 *
 * The drive's local paths are `bucket/key…` (JupyterLab strips the `S3:`
 * drive prefix before the drive sees them); the root lists buckets. S3 has
 * no directories: a "folder" is a key prefix ending in `/`, so the same
 * path can name a file (`bucket/a`) or a folder (`bucket/a/`), and these
 * helpers keep that distinction explicit.
 *
 * Pure functions only (no JupyterLab imports), unit-tested with node.
 */

import { TABLE_EXTENSIONS } from './table-formats';

/** A bucket and a key inside it; `key` is `''` for the bucket root. */
export interface S3Address {
  bucket: string;
  key: string;
}

/** The drive's name: paths in JupyterLab look like `S3:bucket/key`. */
export const DRIVE_NAME = 'S3';

/** Strips the drive prefix and surrounding slashes: `S3:/b/k/` → `b/k`. */
export function normalize(path: string): string {
  let p = path;
  if (p.startsWith(`${DRIVE_NAME}:`)) {
    p = p.slice(DRIVE_NAME.length + 1);
  }
  return p.replace(/^\/+/, '').replace(/\/+$/, '');
}

/** Splits a drive path into bucket and key (`''` at the bucket root). */
export function parse(path: string): S3Address {
  const p = normalize(path);
  const slash = p.indexOf('/');
  if (slash < 0) {
    return { bucket: p, key: '' };
  }
  return { bucket: p.slice(0, slash), key: p.slice(slash + 1) };
}

/** The drive path of an address (folders without the trailing `/`). */
export function toPath(address: S3Address): string {
  const key = address.key.replace(/\/+$/, '');
  return key ? `${address.bucket}/${key}` : address.bucket;
}

/** The key prefix that lists a folder: `''` at the root, else `key/`. */
export function folderPrefix(key: string): string {
  const k = key.replace(/\/+$/, '');
  return k ? `${k}/` : '';
}

/** The last segment of a path or key (`a/b/` → `b`). */
export function basename(path: string): string {
  const p = path.replace(/\/+$/, '');
  return p.slice(p.lastIndexOf('/') + 1);
}

/** The parent of a drive path (`b/k/x` → `b/k`, `b` → `''`). */
export function dirname(path: string): string {
  const p = normalize(path);
  const slash = p.lastIndexOf('/');
  return slash < 0 ? '' : p.slice(0, slash);
}

/** Joins drive path segments, ignoring empty ones. */
export function join(...parts: string[]): string {
  return parts
    .map(part => normalize(part))
    .filter(part => part.length > 0)
    .join('/');
}

/** `s3://bucket/key` for a drive path; folders end in `/`. */
export function toS3Url(path: string, isFolder = false): string {
  const { bucket, key } = parse(path);
  if (!key) {
    return `s3://${bucket}/`;
  }
  return `s3://${bucket}/${key}${isFolder ? '/' : ''}`;
}

/**
 * Whether "Query in notebook" applies to an object of this name: exactly
 * the endings Quarry's SQL reads from a URL (the list is generated from
 * quarry-s3, where the kernel and the panel backend use it too).
 */
export function isQueryable(name: string): boolean {
  const lower = name.toLowerCase();
  return TABLE_EXTENSIONS.some(ext => lower.endsWith(ext));
}

/**
 * The SQL cell that "Query in notebook" inserts. Quotes in the URL are
 * doubled, as SQL string literals require.
 */
export function queryFor(url: string, limit = 100): string {
  return `SELECT * FROM '${url.replace(/'/g, "''")}' LIMIT ${limit}`;
}

/**
 * A name not in `taken`: `untitled.txt`, `untitled1.txt`, … (JupyterLab's
 * own pattern, so new files and folders look as they do elsewhere).
 */
export function uniqueName(base: string, ext: string, taken: Set<string>): string {
  for (let i = 0; ; i++) {
    const name = `${base}${i === 0 ? '' : i}${ext}`;
    if (!taken.has(name)) {
      return name;
    }
  }
}

/** `name-Copy1.ext`, `name-Copy2.ext`, … for duplicates (JupyterLab's pattern). */
export function copyName(name: string, taken: Set<string>): string {
  const dot = name.lastIndexOf('.');
  const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
  for (let i = 1; ; i++) {
    const candidate = `${stem}-Copy${i}${ext}`;
    if (!taken.has(candidate)) {
      return candidate;
    }
  }
}

/**
 * Checks a name typed by the user for a file or folder (one path segment),
 * returning why it is unusable or `null` when it is fine.
 */
export function invalidName(name: string): string | null {
  if (!name.trim()) {
    return 'A name cannot be empty.';
  }
  if (name === '.' || name === '..') {
    return `"${name}" cannot be used as a name in S3.`;
  }
  if (/[\u0000-\u001f\u007f]/.test(name)) {
    return 'Names cannot contain control characters.';
  }
  return null;
}
