import { strict as assert } from 'node:assert';
import { test } from 'node:test';

import { chooseBrowser } from '../src/panel/browser-focus';

test('the S3 browser is current only while the user works in it', () => {
  const [local, s3] = ['local', 's3'];
  // A fresh workspace: the S3 browser was added last, nothing clicked yet.
  assert.equal(chooseBrowser(s3, s3, local, 'elsewhere'), local);
  // Working in the S3 panel (or a context menu opened from it).
  assert.equal(chooseBrowser(s3, s3, local, 's3'), s3);
  // The tracker's own choice stands when it is not the S3 browser.
  assert.equal(chooseBrowser(local, s3, local, 's3'), local);
  assert.equal(chooseBrowser(null, s3, local, 'elsewhere'), null);
  // Without a default browser there is nothing better to offer.
  assert.equal(chooseBrowser(s3, s3, null, 'elsewhere'), s3);
});
