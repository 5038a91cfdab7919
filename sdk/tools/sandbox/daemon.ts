// A daemon the sandbox started (a child process with its log file), and a traffic stream between
// two pods (a running probe.js that reports its counters on request).
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { StreamStats } from './probe.js';

/** SIGTERM first; SIGKILL if the daemon is still running after this long. */
const STOP_GRACE_MS = 3_000;

export class Daemon {
  private exitPromise: Promise<number | null>;
  exitCode: number | null | undefined;

  constructor(
    readonly name: string,
    readonly proc: ChildProcess,
    readonly logFile: string,
  ) {
    this.exitPromise = new Promise((resolve) =>
      proc.once('exit', (code, signal) => {
        this.exitCode = code ?? (signal ? null : code);
        resolve(code);
      }),
    );
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.running) this.proc.kill(signal);
  }

  exited(): Promise<number | null> {
    return this.exitPromise;
  }

  /** SIGTERM, then SIGKILL after a grace period. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.kill('SIGTERM');
    const timer = setTimeout(() => this.kill('SIGKILL'), STOP_GRACE_MS);
    await this.exitPromise;
    clearTimeout(timer);
  }
}

/** A running `probe.js stream`; stats() asks it for its counters (SIGUSR1), stop() ends it (SIGTERM). */
export class Stream {
  private waiting: ((s: StreamStats) => void)[] = [];
  private last?: StreamStats;

  constructor(readonly daemon: Daemon) {
    if (!daemon.proc.stdout) return;
    createInterface({ input: daemon.proc.stdout, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (line) => {
      if (!line.startsWith('{')) return;
      this.last = JSON.parse(line) as StreamStats;
      const w = this.waiting.shift();
      w?.(this.last);
    });
  }

  private ask(signal: NodeJS.Signals): Promise<StreamStats> {
    if (!this.daemon.running) {
      return this.last ? Promise.resolve(this.last) : Promise.reject(new Error('the stream is not running'));
    }
    return new Promise<StreamStats>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the stream did not report within 5 s')), 5_000);
      this.waiting.push((s) => {
        clearTimeout(timer);
        resolve(s);
      });
      this.daemon.kill(signal);
    });
  }

  stats(): Promise<StreamStats> {
    return this.ask('SIGUSR1');
  }

  /** Sets the mark: `lostSinceMark` counts from the next datagram on. */
  mark(): Promise<StreamStats> {
    return this.ask('SIGUSR2');
  }

  async stop(): Promise<StreamStats> {
    const s = await this.ask('SIGTERM');
    await this.daemon.exited();
    return s;
  }
}
