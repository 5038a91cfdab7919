// Child processes of the bench (iperf3, the traffic helper, CNI plugins), tracked so that Ctrl-C or
// a failure kills every one still running. Each is killed by its own pid, never by name.
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const HELPER = join(dirname(fileURLToPath(import.meta.url)), 'helper.js');

const live = new Set<ChildProcess>();

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  input?: string;
  timeoutMs?: number;
}

/** Runs a command to completion; never rejects for a non-zero exit (look at `code`). */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    live.add(child);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : undefined;
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', (e) => {
      live.delete(child);
      clearTimeout(timer);
      reject(new Error(`cannot run ${cmd}: ${e.message}`));
    });
    child.on('close', (code) => {
      const ms = performance.now() - started;
      live.delete(child);
      clearTimeout(timer);
      resolve({
        code,
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
        ms,
      });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

/** Like run, but rejects with stderr when the command fails. */
export async function runOk(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

/** A long-running child whose stdout is read line by line. */
export class Background {
  readonly lines: string[] = [];
  private readonly exited: Promise<number | null>;
  private waiters: { test: (l: string) => boolean; resolve: (l: string) => void }[] = [];
  stderr = '';

  private constructor(readonly proc: ChildProcess) {
    live.add(proc);
    this.exited = new Promise((resolve) =>
      proc.once('close', (code) => {
        live.delete(proc);
        resolve(code);
      }),
    );
    if (proc.stdout) {
      createInterface({ input: proc.stdout, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (line) => {
        this.lines.push(line);
        for (const w of [...this.waiters]) {
          if (w.test(line)) {
            this.waiters = this.waiters.filter((x) => x !== w);
            w.resolve(line);
          }
        }
      });
    }
    proc.stderr?.on('data', (d: Buffer) => {
      this.stderr += d.toString();
    });
  }

  static start(cmd: string, args: readonly string[]): Background {
    return new Background(spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] }));
  }

  /** Resolves with the first line (already seen or future) that passes `test`. */
  waitFor(test: (l: string) => boolean, timeoutMs: number, what: string): Promise<string> {
    const seen = this.lines.find(test);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(new Error(`${what}: nothing within ${timeoutMs} ms (stderr: ${this.stderr.trim()})`));
      }, timeoutMs);
      const done = (l: string) => {
        clearTimeout(timer);
        resolve(l);
      };
      this.waiters.push({ test, resolve: done });
      this.exited.then(() => {
        if (this.waiters.some((w) => w.resolve === done)) {
          clearTimeout(timer);
          reject(new Error(`${what}: the process exited (stderr: ${this.stderr.trim()})`));
        }
      });
    });
  }

  write(line: string): void {
    this.proc.stdin?.write(`${line}\n`);
  }

  wait(): Promise<number | null> {
    return this.exited;
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 2000);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Runs the traffic helper inside a namespace. */
export function helper(netns: string, args: readonly string[]): Background {
  return Background.start('ip', ['netns', 'exec', netns, process.execPath, HELPER, ...args]);
}

export function helperRun(netns: string, args: readonly string[], timeoutMs = 60_000): Promise<RunResult> {
  return run('ip', ['netns', 'exec', netns, process.execPath, HELPER, ...args], { timeoutMs });
}

/** Kills every child still running (on Ctrl-C or failure). */
export function killAll(): void {
  for (const p of live) p.kill('SIGKILL');
  live.clear();
}
