// Running host programs: one helper that captures output and throws an error naming the command, one that
// streams a long build and prints progress lines instead of every line.
import { type SpawnOptions, spawn } from 'node:child_process';
import * as readline from 'node:readline';

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string;
  /** Return the result instead of throwing when the exit code is not 0. */
  allowFail?: boolean;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly result: RunResult,
  ) {
    super(
      `failed to run ${command}: exit ${result.code}: ${(result.stderr || result.stdout).trim().slice(-2000)}`,
    );
  }
}

export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.on('error', (err) => reject(new Error(`failed to run ${cmd}: ${err.message}`)));
    child.on('close', (code, signal) => {
      const result = { code: code ?? (signal ? 128 : 1), stdout, stderr };
      if (result.code !== 0 && !opts.allowFail) reject(new CommandError([cmd, ...args].join(' '), result));
      else resolve(result);
    });
    if (child.stdin) {
      // a child that exits without reading its input must not crash us with EPIPE
      child.stdin.on('error', () => {});
      child.stdin.end(opts.input);
    }
  });
}

/** True when `cmd` is found on PATH. */
export async function which(cmd: string): Promise<string | undefined> {
  const r = await run('sh', ['-c', 'command -v "$1"', 'sh', cmd], { allowFail: true });
  return r.code === 0 ? r.stdout.trim() : undefined;
}

export interface StreamOptions extends SpawnOptions {
  /** Called for every output line; return a progress message to print, or undefined to stay quiet. */
  onLine?: (line: string) => string | undefined;
  /** Where the full output goes (the caller's log file); the last lines are shown when the command fails. */
  logLine?: (line: string) => void;
}

/** Runs a long command, printing only the progress lines onLine picks; throws with the output's tail. */
export function stream(cmd: string, args: readonly string[], opts: StreamOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    const tail: string[] = [];
    const onLine = (line: string) => {
      opts.logLine?.(line);
      tail.push(line);
      if (tail.length > 40) tail.shift();
      const msg = opts.onLine?.(line);
      if (msg) log(msg);
    };
    readline.createInterface({ input: child.stdout! }).on('line', onLine);
    readline.createInterface({ input: child.stderr! }).on('line', onLine);
    child.on('error', (err) => reject(new Error(`failed to run ${cmd}: ${err.message}`)));
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new Error(`failed to run ${cmd} ${args.join(' ')}: exit ${code}:\n${tail.join('\n')}`));
    });
  });
}

export function log(msg: string): void {
  process.stderr.write(`nsm-cluster: ${msg}\n`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `check` every intervalMs until it returns true; throws naming `what` after timeoutMs. */
export async function waitFor(
  what: string,
  timeoutMs: number,
  check: () => Promise<boolean>,
  intervalMs = 200,
) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
    await sleep(intervalMs);
  }
}
