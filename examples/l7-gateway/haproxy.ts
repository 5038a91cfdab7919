// HAProxy as a child process of the gateway, in the gateway's network namespace (it inherits it):
// master-worker mode (`-W`) in the foreground, so the master is our child and is stopped with us.
//
// Reload: the new configuration is checked first (`haproxy -c`; a bad one never reaches the master),
// written over the old file, and the master gets SIGUSR2: it starts new workers, which take the
// listening sockets over from the old ones (`expose-fd listeners` on the stats socket), while the old
// workers finish the requests they hold (soft stop). No connection is refused or cut. The reload is
// done when the stats socket answers from a new worker pid.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { failedPrecondition, invalidArgument } from '../../sdk/errors/index.js';
import { logger } from '../../sdk/tools/log.js';

const exec = promisify(execFile);
const log = logger('l7-gateway');
/** How long HAProxy may take to serve after start or reload (a loaded 2-core machine: generous). */
const READY_TIMEOUT_MS = 15_000;
const POLL_MS = 50;
/** SIGTERM (hard stop of master and workers), then SIGKILL after this long. */
const STOP_GRACE_MS = 3_000;

/** The haproxy binary on PATH, or a one-line error naming it and its Debian package. */
export function findHaproxy(binary = 'haproxy'): string {
  if (binary.includes('/')) return binary;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    try {
      accessSync(join(dir, binary), constants.X_OK);
      return join(dir, binary);
    } catch {}
  }
  throw failedPrecondition(
    `failed to start the l7-gateway: the binary "${binary}" is not on PATH (install the Debian package haproxy)`,
  );
}

/** One command on HAProxy's stats socket (`show stat`, `show info`); resolves with the answer. */
export function statsCommand(socket: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(socket);
    let out = '';
    s.on('connect', () => s.end(`${command}\n`));
    s.on('data', (d) => {
      out += d;
    });
    s.on('error', reject);
    s.on('close', () => resolve(out));
  });
}

/**
 * Whether our HAProxy process `pid` still runs: its command line names our configuration file (so a
 * pid the kernel gave to another process since is not ours; a zombie has no command line left).
 */
function alive(pid: number, cfgFile: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(cfgFile);
  } catch {
    return false;
  }
}

async function workerPid(socket: string): Promise<number | undefined> {
  const info = await statsCommand(socket, 'show info').catch(() => '');
  const m = /^Pid: (\d+)$/m.exec(info);
  return m ? Number(m[1]) : undefined;
}

export interface Haproxy {
  /** Checks, writes and applies a new configuration; resolves once a new worker serves it. */
  reload(cfg: string): Promise<void>;
  /** The current worker's pid (it changes with every reload). */
  readonly workerPid: number | undefined;
  close(): Promise<void>;
}

export interface HaproxyOptions {
  binary: string;
  cfgFile: string;
  statsSocket: string;
}

async function check(binary: string, file: string): Promise<void> {
  try {
    await exec(binary, ['-c', '-f', file]); // without -q: the [ALERT] lines say what is wrong
  } catch (e) {
    const stderr = (e as { stderr?: string }).stderr ?? String(e);
    const alert = stderr.split('\n').find((l) => l.includes('[ALERT]')) ?? stderr.trim().split('\n')[0];
    throw invalidArgument(`failed to check the HAProxy configuration ${file}: ${alert}`);
  }
}

async function waitFor(what: string, ok: () => Promise<boolean>, exited: () => string | undefined) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!(await ok())) {
    const gone = exited();
    if (gone) throw failedPrecondition(`failed to ${what}: HAProxy exited (${gone})`);
    if (Date.now() > deadline)
      throw failedPrecondition(`failed to ${what}: not within ${READY_TIMEOUT_MS} ms`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** Starts HAProxy with `cfg`; resolves once its worker answers on the stats socket. */
export async function startHaproxy(opts: HaproxyOptions, cfg: string): Promise<Haproxy> {
  const write = async (text: string) => {
    const tmp = `${opts.cfgFile}.new`;
    await writeFile(tmp, text);
    await check(opts.binary, tmp);
    await rename(tmp, opts.cfgFile); // the master re-reads this path on SIGUSR2
  };
  await write(cfg);
  const proc: ChildProcess = spawn(opts.binary, ['-W', '-f', opts.cfgFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let exit: string | undefined;
  const exited = new Promise<void>((resolve) =>
    proc.once('exit', (code, signal) => {
      exit = signal ?? `code ${code}`;
      resolve();
    }),
  );
  proc.once('error', (e) => {
    exit = e.message;
  });
  let tail = '';
  let stopping = false; // the workers' exit on our SIGTERM is an [ALERT] of the master, and expected
  for (const s of [proc.stdout, proc.stderr])
    s?.on('data', (d: Buffer) => {
      tail = (tail + d).slice(-2000);
      // Its [NOTICE] and [WARNING] lines are the reload's routine (workers forked and stopped).
      for (const line of String(d).trim().split('\n'))
        if (line.includes('[ALERT]') && !stopping) log.error({ haproxy: line }, 'haproxy');
        else if (line) log.debug({ haproxy: line }, 'haproxy');
    });
  /** Every worker pid seen: the master may exit before a soft-stopping old worker has. */
  const workers = new Set<number>();
  const stop = async () => {
    stopping = true;
    if (exit === undefined) {
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    }
    const deadline = Date.now() + STOP_GRACE_MS;
    const ours = (w: number) => alive(w, opts.cfgFile);
    while ([...workers].some(ours)) {
      if (Date.now() > deadline) for (const w of workers) if (ours(w)) process.kill(w, 'SIGKILL');
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  };
  let pid: number | undefined;
  try {
    await waitFor(
      'start HAProxy',
      async () => {
        pid = await workerPid(opts.statsSocket);
        if (pid !== undefined) workers.add(pid);
        return pid !== undefined;
      },
      () => (exit ? `${exit}: ${tail.trim().split('\n').pop()}` : undefined),
    );
  } catch (e) {
    await stop();
    throw e;
  }
  let queue = Promise.resolve();
  return {
    reload(text) {
      const next = queue.then(async () => {
        await write(text);
        const old = pid;
        proc.kill('SIGUSR2');
        await waitFor(
          'reload HAProxy',
          async () => {
            const now = await workerPid(opts.statsSocket);
            if (now === undefined || now === old) return false;
            pid = now;
            for (const w of workers) if (!alive(w, opts.cfgFile)) workers.delete(w);
            workers.add(now);
            return true;
          },
          () => exit,
        );
      });
      queue = next.catch(() => undefined);
      return next;
    },
    get workerPid() {
      return pid;
    },
    async close() {
      await queue;
      await stop();
    },
  };
}
