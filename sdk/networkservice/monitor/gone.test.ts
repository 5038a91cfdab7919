import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyNoLeaks } from '../../testing/leaks.js';
import { unixListenerGone } from './gone.js';

describe('monitor unixListenerGone', () => {
  verifyNoLeaks();
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'nsm-gone-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('says a listening socket is there', async () => {
    const path = join(dir, 'nse.sock');
    const server = createServer((s) => s.destroy());
    await new Promise<void>((resolve) => server.listen(path, resolve));
    try {
      assert.equal(await unixListenerGone(`unix://${path}`), false);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('says a socket nobody listens on is gone', async () => {
    assert.equal(await unixListenerGone(`unix://${join(dir, 'missing.sock')}`), true);
  });

  it('never judges a tcp URL (a remote nsmgr is not an endpoint)', async () => {
    assert.equal(await unixListenerGone('tcp://127.0.0.1:1'), false);
  });
});
