import { strict as assert } from 'node:assert';
import { test } from 'node:test';

import { humanBytes, planChunks } from '../src/panel/chunks';
import { describe as describeCredentials, humanDuration } from '../src/panel/expiry';

test('chunks cover the file exactly, numbered from 1, last marked', () => {
  const size = 20 * 1024 * 1024 + 3;
  const chunks = planChunks(size, 8 * 1024 * 1024);
  assert.equal(chunks.length, 3);
  assert.deepEqual(chunks.map(c => c.part), [1, 2, 3]);
  assert.equal(chunks[0].start, 0);
  for (let i = 1; i < chunks.length; i++) {
    assert.equal(chunks[i].start, chunks[i - 1].end);
  }
  assert.equal(chunks[2].end, size);
  assert.deepEqual(chunks.map(c => c.last), [false, false, true]);
});

test('empty and exact-multiple files', () => {
  assert.deepEqual(planChunks(0), [{ part: 1, start: 0, end: 0, last: true }]);
  const exact = planChunks(16, 8);
  assert.equal(exact.length, 2);
  assert.ok(exact[1].last && exact[1].end === 16);
});

test('sizes and durations read naturally', () => {
  assert.equal(humanBytes(512), '512 B');
  assert.equal(humanBytes(1536), '1.5 KiB');
  assert.equal(humanBytes(30 * 1024 * 1024), '30 MiB');
  assert.equal(humanDuration(42), '42 s');
  assert.equal(humanDuration(17 * 60 + 5), '17 min');
  assert.equal(humanDuration(3 * 3600 + 5 * 60), '3 h 05 min');
  assert.equal(humanDuration(50 * 3600), '2 d 2 h');
});

const whoami = (secondsLeft: number | null, renewable: boolean) => ({
  user: 'alice',
  endpoint: 'http://s3:9000',
  credentials: { access_key_hint: 'AKIA…XYZ', temporary: true, renewable, seconds_left: secondsLeft }
});

test('credential status warns near expiry and errors once expired', () => {
  assert.equal(describeCredentials(whoami(3600, false)).level, 'ok');
  assert.match(describeCredentials(whoami(3600, false)).text, /alice · S3 1 h 00 min/);
  assert.equal(describeCredentials(whoami(300, false)).level, 'warning');
  // Renewable credentials are renewed 5 minutes ahead: only warn when that failed.
  assert.equal(describeCredentials(whoami(300, true)).level, 'ok');
  assert.equal(describeCredentials(whoami(60, true)).level, 'warning');
  // The countdown runs between polls.
  const later = describeCredentials(whoami(700, false), 650);
  assert.equal(later.level, 'warning');
  assert.match(later.text, /50 s/);
  const expired = describeCredentials(whoami(10, false), 20);
  assert.equal(expired.level, 'error');
  assert.match(expired.title, /expired.*restart your server/);
  assert.equal(describeCredentials(whoami(null, false)).level, 'ok');
});

test('the bar names the user and the time left, never a key prefix', () => {
  const local = { user: null, endpoint: 'http://127.0.0.1:8333', credentials: { access_key_hint: 'QUAR…', temporary: false, source: 'environment', seconds_left: null } };
  const shown = describeCredentials(local);
  assert.equal(shown.text, 'S3');
  assert.equal(shown.title, 'S3 at http://127.0.0.1:8333 as fixed keys from environment (key QUAR…); they do not expire.');
  const sts = { ...local, credentials: { ...local.credentials, temporary: true, renewable: true, source: 'web identity', seconds_left: 3000 } };
  assert.equal(describeCredentials(sts).text, 'S3 · 50 min left');
  const hub = { ...sts, user: 'alice' };
  assert.equal(describeCredentials(hub).text, 'alice · S3 50 min');
  assert.match(describeCredentials(hub).title, /as alice, with temporary credentials from web identity \(key QUAR…\); they expire in 50 min\./);
  for (const status of [shown, describeCredentials(sts), describeCredentials(hub)]) {
    assert.equal(status.text.includes('QUAR'), false);
  }
});

test('a credentials problem is shown, never hidden', () => {
  const status = describeCredentials({
    user: 'bob',
    endpoint: 'http://s3:9000',
    credentials: null,
    problem: 'Your S3 credentials expired at 10:00 and could not be renewed.'
  });
  assert.equal(status.level, 'error');
  assert.match(status.title, /could not be renewed/);
});
