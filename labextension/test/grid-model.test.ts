import { strict as assert } from 'node:assert';
import { test } from 'node:test';

import {
  GridColumn,
  describeFilter,
  nextSort,
  parseFilter,
  rowRange,
  toCsv,
  toMarkdown,
  visibleWindow
} from '../src/notebook/grid-model';

const site: GridColumn = { name: 'site', type: 'Utf8', kind: 'text' };
const n: GridColumn = { name: 'n', type: 'Int64', kind: 'number' };

test('filters read as people type them', () => {
  assert.deepEqual(parseFilter(site, "= 'x'"), { column: 'site', op: '=', value: 'x' });
  assert.deepEqual(parseFilter(n, '>=  5'), { column: 'n', op: '>=', value: '5' });
  assert.deepEqual(parseFilter(n, '<> 3'), { column: 'n', op: '!=', value: '3' });
  assert.deepEqual(parseFilter(site, 'IS NULL'), { column: 'site', op: 'is null' });
  assert.deepEqual(parseFilter(site, 'not null'), { column: 'site', op: 'is not null' });
  assert.deepEqual(parseFilter(site, 'contains No'), { column: 'site', op: 'contains', value: 'No' });
  assert.deepEqual(parseFilter(site, 'north'), { column: 'site', op: 'contains', value: 'north' });
  assert.deepEqual(parseFilter(n, '42'), { column: 'n', op: '=', value: '42' });
  assert.equal(parseFilter(site, '   '), null);
  assert.equal(describeFilter({ column: 'n', op: '>', value: '5' }), '> 5');
  assert.equal(describeFilter({ column: 'n', op: 'is null' }), 'is null');
});

test('a header click cycles ascending, descending, unsorted', () => {
  const asc = nextSort([], 'n');
  assert.deepEqual(asc, [{ column: 'n', descending: false }]);
  const desc = nextSort(asc, 'n');
  assert.deepEqual(desc, [{ column: 'n', descending: true }]);
  assert.deepEqual(nextSort(desc, 'n'), []);
  assert.deepEqual(nextSort(desc, 'site'), [{ column: 'site', descending: false }]);
});

test('pages copy as CSV and Markdown', () => {
  const rows = [
    ['a,b', '1'],
    [null, '2'],
    ['say "hi"\nthere', '3']
  ];
  assert.equal(toCsv([site, n], rows), 'site,n\r\n"a,b",1\r\n,2\r\n"say ""hi""\nthere",3\r\n');
  const md = toMarkdown([site, n], [['a|b', '1'], [{ k: [1] }, null]]);
  assert.equal(md, '| site | n |\n| --- | ---: |\n| a\\|b | 1 |\n| {"k":[1]} | NULL |\n');
});

test('row ranges say what is shown of what', () => {
  assert.equal(rowRange(200, 100, 1_000_000, 1_000_000), 'Rows 201–300 of 1,000,000');
  assert.equal(rowRange(0, 10, 333, 1000), 'Rows 1–10 of 333 matching (1,000 in all)');
  assert.equal(rowRange(0, 0, 0, 1000), 'No rows match (of 1,000)');
});

test('show-all scrolling maps any height onto the rows', () => {
  const small = visibleWindow(0, 240, 24, 50);
  assert.deepEqual(small, { first: 0, count: 11, spacer: 1200 });
  const end = visibleWindow(1200 - 240, 240, 24, 50);
  assert.equal(end.first + end.count, 50, 'the last row is reachable');
  const huge = visibleWindow(8_000_000 - 240, 240, 24, 10_000_000);
  assert.equal(huge.spacer, 8_000_000, 'the spacer stays under the browser cap');
  assert.equal(huge.first + huge.count, 10_000_000);
  const middle = visibleWindow((8_000_000 - 240) / 2, 240, 24, 10_000_000);
  assert.ok(Math.abs(middle.first - 5_000_000) < 10);
});
