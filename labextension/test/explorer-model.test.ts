import { strict as assert } from 'node:assert';
import { test } from 'node:test';

import { actionCell, explorerItems, sqlName } from '../src/notebook/explorer-model';

test('names are qualified and quoted only when SQL needs it', () => {
  assert.equal(sqlName('readings'), 'readings');
  assert.equal(sqlName('Sales 2024'), '"Sales 2024"');
  assert.equal(sqlName('say "hi"'), '"say ""hi"""');
  const items = explorerItems({
    tables: [
      { schema: 'public', name: 'readings', kind: 'BASE TABLE', columns: [['x', 'Int64']] },
      { schema: 'staging', name: 'Events', kind: 'VIEW', columns: [] }
    ],
    spark_views: [{ name: 'trips', columns: [['fare', 'double']] }]
  });
  assert.deepEqual(
    items.map(i => [i.reference, i.label, i.kind, i.engine]),
    [
      ['readings', 'readings', 'table', 'sql'],
      ['staging."Events"', 'staging.Events', 'view', 'sql'],
      ['trips', 'trips', 'spark view', 'spark']
    ]
  );
});

test('menu entries write cells for the engine that holds the table', () => {
  const [table, , view] = explorerItems({
    tables: [
      { schema: 'public', name: 'readings', kind: 'BASE TABLE', columns: [] },
      { schema: 'public', name: 'other', kind: 'BASE TABLE', columns: [] }
    ],
    spark_views: [{ name: 'trips', columns: [] }]
  });
  assert.equal(actionCell(table, 'select'), 'SELECT * FROM readings LIMIT 100');
  assert.equal(actionCell(table, 'profile'), '%profile readings');
  assert.equal(actionCell(table, 'chart'), '%chart\nSELECT * FROM readings');
  assert.equal(actionCell(view, 'select'), '%%spark\nSELECT * FROM trips LIMIT 100');
  assert.equal(actionCell(view, 'chart'), '%chart\n%%spark\nSELECT * FROM trips');
});

test('each item says where it lives: the catalog or this kernel only', () => {
  const [kept, own, spark] = explorerItems({
    tables: [
      { schema: 'public', name: 'readings', kind: 'BASE TABLE', columns: [], kept: true },
      { schema: 'public', name: 'scratch', kind: 'BASE TABLE', columns: [], kept: false }
    ],
    spark_views: [{ name: 'trips', columns: [] }]
  });
  assert.match(kept.lives, /^kept in your catalog/);
  assert.match(own.lives, /^this kernel only/);
  assert.match(spark.lives, /Spark session/);
});
