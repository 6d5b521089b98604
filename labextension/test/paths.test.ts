import { strict as assert } from 'node:assert';
import { test } from 'node:test';

import * as paths from '../src/panel/paths';

test('drive paths split into bucket and key', () => {
  assert.deepEqual(paths.parse('S3:data/dir/file.csv'), { bucket: 'data', key: 'dir/file.csv' });
  assert.deepEqual(paths.parse('/data/'), { bucket: 'data', key: '' });
  assert.deepEqual(paths.parse(''), { bucket: '', key: '' });
  assert.equal(paths.toPath({ bucket: 'data', key: 'dir/' }), 'data/dir');
  assert.equal(paths.toPath({ bucket: 'data', key: '' }), 'data');
});

test('folders list with a trailing slash, the root with none', () => {
  assert.equal(paths.folderPrefix(''), '');
  assert.equal(paths.folderPrefix('a/b'), 'a/b/');
  assert.equal(paths.folderPrefix('a/b/'), 'a/b/');
});

test('basename, dirname and join agree', () => {
  assert.equal(paths.basename('data/dir/x.parquet'), 'x.parquet');
  assert.equal(paths.basename('data/dir/'), 'dir');
  assert.equal(paths.dirname('S3:data/dir/x.parquet'), 'data/dir');
  assert.equal(paths.dirname('data'), '');
  assert.equal(paths.join('', 'data', 'dir/', 'x'), 'data/dir/x');
  assert.equal(paths.join(paths.dirname('data/a/b'), paths.basename('data/a/b')), 'data/a/b');
});

test('s3 URLs mark folders and keep the key as is', () => {
  assert.equal(paths.toS3Url('data/dir/a b.csv'), 's3://data/dir/a b.csv');
  assert.equal(paths.toS3Url('data/dir', true), 's3://data/dir/');
  assert.equal(paths.toS3Url('data'), 's3://data/');
});

test('only formats SQL cells read are queryable', () => {
  for (const name of ['x.parquet', 'X.CSV', 'events.json', 'big.csv.gz', 't.arrow']) {
    assert.ok(paths.isQueryable(name), name);
  }
  // DataFusion's URL tables do not infer these (quarry-sql's preview test
  // checks the list against the engine).
  for (const name of ['notes.txt', 'nb.ipynb', 'parquet', 'data.csv.bak', 'log.ndjson', 'a.jsonl', 'a.avro']) {
    assert.ok(!paths.isQueryable(name), name);
  }
});

test('the generated query quotes the URL as a SQL literal', () => {
  assert.equal(paths.queryFor('s3://b/k.csv'), "SELECT * FROM 's3://b/k.csv' LIMIT 100");
  assert.equal(paths.queryFor("s3://b/it's.csv", 5), "SELECT * FROM 's3://b/it''s.csv' LIMIT 5");
});

test('new and copied names avoid existing ones', () => {
  const taken = new Set(['untitled.txt', 'untitled1.txt', 'a-Copy1.csv']);
  assert.equal(paths.uniqueName('untitled', '.txt', taken), 'untitled2.txt');
  assert.equal(paths.uniqueName('Untitled Folder', '', taken), 'Untitled Folder');
  assert.equal(paths.copyName('a.csv', taken), 'a-Copy2.csv');
  assert.equal(paths.copyName('README', taken), 'README-Copy1');
});

test('unusable names are explained', () => {
  assert.equal(paths.invalidName('ok name.csv'), null);
  assert.match(paths.invalidName('  ') ?? '', /empty/);
  assert.match(paths.invalidName('..') ?? '', /cannot be used/);
  assert.match(paths.invalidName('a\nb') ?? '', /control/);
});
