import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newStderrSink } from './stderr.js';

/** A named pipe with both ends open: the reader non-blocking, so the test can drain it. */
function fifo() {
  const dir = mkdtempSync(join(tmpdir(), 'nsm-stderr-'));
  const path = join(dir, 'pipe');
  execFileSync('mkfifo', [path]);
  const reader = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const writer = openSync(path, constants.O_WRONLY);
  const drain = (): string => {
    const buf = Buffer.alloc(1 << 20);
    let out = '';
    for (;;) {
      try {
        const n = readSync(reader, buf);
        if (n === 0) return out;
        out += buf.subarray(0, n).toString();
      } catch {
        return out; // EAGAIN: empty
      }
    }
  };
  const cleanup = () => {
    for (const fd of [reader, writer]) {
      try {
        closeSync(fd);
      } catch {
        // already closed by the test
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  return { reader, writer, drain, cleanup };
}

describe('stderr sink', () => {
  it('writes whole lines while the reader keeps up', () => {
    const p = fifo();
    try {
      const sink = newStderrSink(p.writer);
      sink.write('one\n');
      sink.write('two\n');
      assert.equal(p.drain(), 'one\ntwo\n');
      assert.equal(sink.dropped, 0);
    } finally {
      p.cleanup();
    }
  });

  it('drops lines instead of blocking when the pipe is full, then says how many', () => {
    const p = fifo();
    try {
      const sink = newStderrSink(p.writer);
      const line = `${'x'.repeat(1023)}\n`;
      // A pipe holds 64 KiB by default; a blocking writer would hang the test here.
      for (let i = 0; i < 200; i++) sink.write(line);
      assert.ok(sink.dropped > 0, 'some lines were dropped');
      const dropped = sink.dropped;
      p.drain();
      sink.write('after\n');
      const out = p.drain();
      assert.match(out, new RegExp(`"${dropped} log lines dropped: stderr was full"`));
      assert.ok(out.endsWith('after\n'));
      assert.equal(sink.dropped, 0);
    } finally {
      p.cleanup();
    }
  });

  it('turns itself off when the reader is gone (EPIPE) instead of throwing or retrying', () => {
    const p = fifo();
    try {
      const sink = newStderrSink(p.writer);
      closeSync(p.reader);
      assert.doesNotThrow(() => sink.write('nobody reads this\n'));
      assert.equal(sink.alive, false);
      assert.doesNotThrow(() => sink.write('nor this\n'));
    } finally {
      p.cleanup();
    }
  });
});
