import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
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

  // A process that listens on `path`, stopped (SIGSTOP) once it does: it accepts nothing any more.
  async function stoppedListener(path: string): Promise<ChildProcess> {
    const script = `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGSTOP'))`;
    const child = spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
    await new Promise<void>((resolve, reject) => {
      child.once('error', reject);
      const poll = setInterval(() => {
        try {
          if (/^State:\s+T/m.test(readFileSync(`/proc/${child.pid}/status`, 'utf8'))) {
            clearInterval(poll);
            resolve();
          }
        } catch (e) {
          clearInterval(poll);
          reject(e);
        }
      }, 5);
    });
    return child;
  }

  it('says a hung listener is there (its backlog takes the probe)', async () => {
    const path = join(dir, 'hung.sock');
    const child = await stoppedListener(path);
    try {
      assert.equal(await unixListenerGone(`unix://${path}`), false);
    } finally {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  });

  it('says a listener killed while the probe sits in its backlog is gone (the reset, not the connect, decides)', async () => {
    const path = join(dir, 'dying.sock');
    const child = await stoppedListener(path);
    // The probe connects into the stopped listener's backlog; the kill then closes the listener.
    const probe = unixListenerGone(`unix://${path}`, 2000, 1000);
    setTimeout(() => child.kill('SIGKILL'), 50);
    try {
      assert.equal(await probe, true);
    } finally {
      child.kill('SIGKILL');
      if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
    }
  });

  it('says a socket nobody listens on is gone', async () => {
    assert.equal(await unixListenerGone(`unix://${join(dir, 'missing.sock')}`), true);
  });

  it('never judges a tcp URL (a remote nsmgr is not an endpoint)', async () => {
    assert.equal(await unixListenerGone('tcp://127.0.0.1:1'), false);
  });
});
