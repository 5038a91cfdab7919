import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { recordDir } from '../sdk/tools/sandbox/owned.js';
import { findLeaks, verifyNothingLeft } from './leak-check.js';

describe('leak check', () => {
  it('finds a child process of ours until it exits, and never an exempt one', async () => {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    const exited = new Promise((r) => child.once('exit', r));
    try {
      assert.ok(
        findLeaks(new Set()).processes.some((p) => p.startsWith(`${child.pid} sleep 30`)),
        'the sleeping child is reported',
      );
      assert.deepEqual(findLeaks(new Set([child.pid ?? -1])).processes, [], 'exempt: not reported');
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
    assert.deepEqual(findLeaks(new Set()).processes, []);
  });

  it('names a recorded directory that is still there, with its sockets, and removes it', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'nsm-leak-')), 'run');
    mkdirSync(dir);
    recordDir(dir);
    try {
      const err = await verifyNothingLeft('the test', new Set(), 50).catch((e: Error) => e);
      assert.ok(err instanceof Error, 'a leak was reported');
      assert.match(err.message, new RegExp(`the test left behind \\(now removed\\):\\ndirectories: ${dir}`));
      assert.deepEqual(findLeaks(new Set()).dirs, [], 'removed after the report');
    } finally {
      rmSync(join(dir, '..'), { recursive: true, force: true });
    }
  });
});
