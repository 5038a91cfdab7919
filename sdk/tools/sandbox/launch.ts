// Starting one daemon of the sandbox: `ip netns exec NETNS node ARGS…` with its output teed to a log
// file, and a promise that settles when a line of its output says it is ready (or it exits first, or
// the timeout passes); and where the scripts it runs are. Split from sandbox.ts, which decides what
// runs where.
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { MALLOC_TUNABLES } from '../heap/index.js';
import { Daemon } from './daemon.js';

/** The daemons and tools the sandbox runs, in the build output (dist/). */
const DIST = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const SCRIPTS = {
  registry: join(DIST, 'registry', 'main.js'),
  nsmgr: join(DIST, 'nsmgr', 'main.js'),
  forwarder: join(DIST, 'forwarder', 'main.js'),
  nodeagent: join(DIST, 'nodeagent', 'main.js'),
  icmpResponder: join(DIST, 'examples', 'icmp-responder', 'main.js'),
  nsc: join(DIST, 'examples', 'nsc', 'main.js'),
  passthrough: join(DIST, 'examples', 'passthrough', 'main.js'),
  firewall: join(DIST, 'examples', 'firewall', 'main.js'),
  l7Gateway: join(DIST, 'examples', 'l7-gateway', 'main.js'),
  apply: join(DIST, 'registry', 'apply', 'main.js'),
  vl3: join(DIST, 'examples', 'vl3', 'main.js'),
  vl3Ipam: join(DIST, 'vl3-ipam', 'main.js'),
  probe: join(DIST, 'sdk', 'tools', 'sandbox', 'probe.js'),
};
/** A small young generation keeps the daemons' memory near their live state (see README, Performance). */
export const DAEMON_NODE_FLAGS = ['--max-semi-space-size=1'];
/** glibc malloc settings every daemon starts with (sdk/tools/heap/malloc.ts); the caller's env wins. */
export const DAEMON_ENV: Readonly<Record<string, string>> = { GLIBC_TUNABLES: MALLOC_TUNABLES };
const READY_TIMEOUT_MS = 20_000;

export interface LaunchOptions {
  name: string;
  netns: string;
  /** Arguments after the node binary (node flags, the script, its arguments). */
  args: string[];
  env: Record<string, string>;
  logFile: string;
  /** True for the line that says the daemon is ready. */
  ready: (line: string) => boolean;
}

/**
 * Spawns the daemon at once (so the caller can record it for teardown before it is ready) and
 * returns it with a promise of its readiness.
 */
export function launch(opts: LaunchOptions): { daemon: Daemon; ready: Promise<void> } {
  const { name, logFile } = opts;
  const log = createWriteStream(logFile, { flags: 'a' });
  const proc = spawn('ip', ['netns', 'exec', opts.netns, process.execPath, ...opts.args], {
    env: opts.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const daemon = new Daemon(name, proc, logFile);
  const output: string[] = [];
  const ready = new Promise<void>((resolve, reject) => {
    let done = false;
    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve();
    };
    const timer = setTimeout(
      () => finish(new Error(`${name} was not ready within ${READY_TIMEOUT_MS} ms; log: ${logFile}`)),
      READY_TIMEOUT_MS,
    );
    const onLine = (line: string) => {
      output.push(line);
      if (!done && opts.ready(line)) finish();
    };
    for (const stream of [proc.stdout, proc.stderr]) {
      if (!stream) continue;
      stream.on('data', (d: Buffer) => log.write(d));
      createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY }).on('line', onLine);
    }
    proc.once('exit', (code) =>
      finish(
        new Error(`${name} exited with code ${code} before it was ready: ${output.slice(-5).join(' | ')}`),
      ),
    );
  });
  return { daemon, ready };
}
