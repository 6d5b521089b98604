import { strict as assert } from 'node:assert';
import { test } from 'node:test';

import { Entry, ListingCache, Page } from '../src/panel/paging';

function entries(from: number, count: number): Entry[] {
  return Array.from({ length: count }, (_, i) => ({
    name: `obj-${from + i}`,
    key: `p/obj-${from + i}`,
    kind: 'object' as const,
    size: 1,
    lastModified: null
  }));
}

/** A folder of `total` objects served `pageSize` at a time, counting requests. */
function folder(total: number, pageSize: number) {
  const calls: (string | null)[] = [];
  const fetch = async (token: string | null): Promise<Page> => {
    calls.push(token);
    const start = token === null ? 0 : Number(token);
    const end = Math.min(start + pageSize, total);
    return { entries: entries(start, end - start), nextToken: end < total ? String(end) : null };
  };
  return { calls, fetch };
}

test('a folder shows its first page and loads more on demand', async () => {
  const cache = new ListingCache();
  const { calls, fetch } = folder(1200, 500);
  let state = await cache.list('b/p', fetch);
  assert.equal(state.entries.length, 500);
  assert.ok(cache.hasMore('b/p'));
  state = await cache.loadMore('b/p', fetch);
  state = await cache.loadMore('b/p', fetch);
  assert.equal(state.entries.length, 1200);
  assert.equal(state.entries[1199].name, 'obj-1199');
  assert.ok(!cache.hasMore('b/p'));
  // Everything loaded: more clicks and plain listings make no requests.
  await cache.loadMore('b/p', fetch);
  await cache.list('b/p', fetch);
  assert.deepEqual(calls, [null, '500', '1000']);
});

test('refreshes do not refetch until the folder is invalidated', async () => {
  let now = 0;
  const cache = new ListingCache({ maxAgeMs: 1000, now: () => now });
  const { calls, fetch } = folder(10, 500);
  await cache.list('b', fetch);
  await cache.list('b', fetch);
  assert.equal(calls.length, 1);
  cache.invalidate('b');
  await cache.list('b', fetch);
  assert.equal(calls.length, 2);
});

test('a stale single page is re-read; a paged-through folder is kept', async () => {
  let now = 0;
  const cache = new ListingCache({ maxAgeMs: 1000, now: () => now });
  const small = folder(10, 500);
  const big = folder(2000, 500);
  await cache.list('small', small.fetch);
  await cache.list('big', big.fetch);
  await cache.loadMore('big', big.fetch);
  now = 5000;
  await cache.list('small', small.fetch);
  const state = await cache.list('big', big.fetch);
  assert.equal(small.calls.length, 2, 'stale first page re-read');
  assert.equal(big.calls.length, 2, 'paged folder not reset under the user');
  assert.equal(state.entries.length, 1000);
});

test('concurrent requests for one folder share a fetch', async () => {
  const cache = new ListingCache();
  const { calls, fetch } = folder(10, 500);
  const [a, b] = await Promise.all([cache.list('b', fetch), cache.list('b', fetch)]);
  assert.equal(calls.length, 1);
  assert.equal(a, b);
});

test('a failed page keeps what was loaded', async () => {
  const cache = new ListingCache();
  const { fetch } = folder(1000, 500);
  await cache.list('b', fetch);
  await assert.rejects(cache.loadMore('b', async () => Promise.reject(new Error('S3 down'))), /S3 down/);
  assert.equal(cache.peek('b')?.entries.length, 500);
  assert.ok(cache.hasMore('b'));
  const state = await cache.loadMore('b', fetch);
  assert.equal(state.entries.length, 1000);
});

test('duplicate names across pages are shown once', async () => {
  const cache = new ListingCache();
  const pages: Page[] = [
    { entries: entries(0, 2), nextToken: 't' },
    { entries: entries(1, 2), nextToken: null }
  ];
  let i = 0;
  await cache.list('b', async () => pages[i++]);
  const state = await cache.loadMore('b', async () => pages[i++]);
  assert.deepEqual(
    state.entries.map(e => e.name),
    ['obj-0', 'obj-1', 'obj-2']
  );
});

test('invalidating a folder forgets its subfolders too', async () => {
  const cache = new ListingCache();
  const { fetch } = folder(1, 500);
  for (const f of ['b/a', 'b/a/x', 'b/ab', 'b']) {
    await cache.list(f, fetch);
  }
  cache.invalidateTree('b/a');
  assert.equal(cache.peek('b/a'), undefined);
  assert.equal(cache.peek('b/a/x'), undefined);
  assert.ok(cache.peek('b/ab'), 'a sibling with the same prefix stays');
  assert.ok(cache.peek('b'));
});
