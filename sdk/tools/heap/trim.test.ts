import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { compactingGc } from './compact.js';
import { mallocTrim } from './trim.js';

const MiB = 1024 * 1024;

function rssBytes(): number {
  const kib = /VmRSS:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  return Number(kib) * 1024;
}

describe('mallocTrim', () => {
  it('hands the free pages of a fragmented malloc heap back to the OS', async () => {
    const { trim, problem } = mallocTrim();
    assert.ok(trim, problem);
    // 2 kB buffers are malloc'd from the arena (under the mmap threshold); keeping one in ten leaves
    // every page partly used, so freeing the rest returns nothing until malloc_trim.
    let bufs: Buffer[] = [];
    for (let i = 0; i < 20_000; i++) bufs.push(Buffer.allocUnsafeSlow(2000).fill(1));
    bufs = bufs.filter((_, i) => i % 10 === 0);
    await compactingGc();
    const before = rssBytes();
    assert.equal(trim(), true, 'some memory went back');
    const after = rssBytes();
    assert.ok(before - after > 10 * MiB, `RSS ${after} after trim vs ${before} before`);
    assert.equal(bufs.length, 2000);
  });

  it('loads once', () => {
    assert.equal(mallocTrim(), mallocTrim());
  });
});
