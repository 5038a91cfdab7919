// A stderr writer that can never hold a daemon up. pino's default destination (sonic-boom) retries a
// failed write every 100 ms and flushes synchronously on exit, so a daemon whose stderr pipe was
// closed or stopped being read ignored SIGTERM for minutes, writing EPIPE in a loop. Here:
//  - writes are synchronous (lines written before process.exit are not lost while the pipe works),
//  - on a pipe the file is reopened non-blocking (/proc/self/fd/2 is a new open file description, so
//    fd 2 itself keeps its flags): a full pipe drops the line instead of blocking; the next line that
//    fits says how many were dropped,
//  - any other error (EPIPE: the reader is gone; EBADF) turns the sink off for good.
import { closeSync, constants, fstatSync, openSync, writeSync } from 'node:fs';

export interface LineSink {
  write(line: string): void;
}

export interface StderrSink extends LineSink {
  /** Lines not written because the pipe was full. */
  readonly dropped: number;
  /** False once a write failed for good (the reader went away). */
  readonly alive: boolean;
}

const STDERR_FD = 2;

/** A non-blocking descriptor for the pipe behind `fd`, or `fd` itself when it is not a pipe. */
function nonBlockingFd(fd: number): { fd: number; own: boolean } {
  try {
    if (!fstatSync(fd).isFIFO()) return { fd, own: false };
    const own = openSync(`/proc/self/fd/${fd}`, constants.O_WRONLY | constants.O_NONBLOCK);
    return { fd: own, own: true };
  } catch {
    return { fd, own: false };
  }
}

function errorCode(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null ? (e as { code?: string }).code : undefined;
}

class Sink implements StderrSink {
  dropped = 0;
  alive = true;
  private readonly fd: number;
  private readonly own: boolean;

  constructor(fd: number) {
    ({ fd: this.fd, own: this.own } = nonBlockingFd(fd));
  }

  write(line: string): void {
    if (!this.alive) return;
    if (this.dropped > 0) {
      const note = `{"level":40,"time":${Date.now()},"msg":"${this.dropped} log lines dropped: stderr was full"}\n`;
      if (!this.writeAll(Buffer.from(note))) {
        this.dropped++;
        return;
      }
      this.dropped = 0;
    }
    if (!this.writeAll(Buffer.from(line))) this.dropped++;
  }

  /** True when all of `buf` was written. */
  private writeAll(buf: Buffer): boolean {
    let off = 0;
    try {
      while (off < buf.length) off += writeSync(this.fd, buf, off);
      return true;
    } catch (e) {
      if (errorCode(e) !== 'EAGAIN') {
        this.alive = false;
        if (this.own) closeSync(this.fd);
      } else if (off > 0) {
        // Half a line is in the pipe: end it, so the reader does not get two lines glued together.
        try {
          writeSync(this.fd, '\n');
        } catch {
          // still full: a torn line is all a non-blocking writer can promise
        }
      }
      return false;
    }
  }
}

/** The process's stderr, for log lines and the one-line start-up errors of a binary. */
export function newStderrSink(fd = STDERR_FD): StderrSink {
  return new Sink(fd);
}
