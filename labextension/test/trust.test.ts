import { strict as assert } from 'node:assert';
import { test } from 'node:test';

import { withoutTrust } from '../src/panel/trust';

test('every trusted flag is dropped, everything else kept', () => {
  const stored = {
    nbformat: 4,
    metadata: { trusted: true, kernelspec: { name: 'quarry' } },
    cells: [
      { cell_type: 'code', metadata: { trusted: true, tags: ['x'] }, outputs: [{ data: { 'text/html': '<script>1</script>' } }] },
      { cell_type: 'markdown', metadata: {} },
      { cell_type: 'raw' }
    ]
  };
  const loaded = withoutTrust(stored);
  assert.equal('trusted' in (loaded.metadata ?? {}), false);
  assert.deepEqual(loaded.metadata, { kernelspec: { name: 'quarry' } });
  for (const cell of loaded.cells ?? []) {
    assert.equal('trusted' in (cell.metadata ?? {}), false);
  }
  assert.deepEqual(loaded.cells?.[0].metadata, { tags: ['x'] });
  assert.deepEqual(loaded.cells?.[0].outputs, stored.cells[0].outputs);
  // The input is not changed.
  assert.equal(stored.cells[0].metadata?.trusted, true);
});

test('a notebook without metadata or cells survives', () => {
  assert.deepEqual(withoutTrust({ nbformat: 4 }), { nbformat: 4, metadata: undefined, cells: undefined });
});
