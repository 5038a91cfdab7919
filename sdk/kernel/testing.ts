// Helpers for tests that touch the real kernel (root only): throw-away named namespaces that are
// always removed, and running a snippet of Node inside a namespace. Not exported from index.ts.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { recordNetns } from '../tools/sandbox/owned.js';
import type { NetnsRef } from './iproute2.js';

const run = promisify(execFile);

/**
 * A Node script (CommonJS, for `node -e` or a .cjs file): TCP and UDP echo servers on ECHO_DEST at each
 * port of ECHO_PORTS (comma-separated) that answer "<ECHO_TAG>:<message>", so the answer says which
 * namespace got the packet when the same address lives in several. Prints "ready" once listening.
 */
export const TAGGED_ECHO_SCRIPT = `
const dgram = require('node:dgram'), net = require('node:net');
const { ECHO_TAG: tag, ECHO_DEST: dest, ECHO_PORTS: ports } = process.env;
const list = ports.split(',').map(Number);
let up = 0;
const ready = () => { if (++up === 2 * list.length) console.log('ready'); };
for (const port of list) {
  const u = dgram.createSocket(dest.includes(':') ? 'udp6' : 'udp4');
  u.on('message', (m, r) => u.send(tag + ':' + m, r.port, r.address));
  u.bind(port, dest, ready);
  net.createServer((s) => s.once('data', (d) => s.end(tag + ':' + d))).listen(port, dest, ready);
}
`;

/** Prefix of every namespace these helpers create, so a leak check can find them. */
export const TEST_NETNS_PREFIX = 'nsmk-';

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

export interface TestNetns extends NetnsRef {
  readonly name: string;
}

/** Every namespace this process's tests made: other test runs on the machine make their own. */
const madeByThisProcess = new Set<string>();

/** Creates named namespaces and removes every one of them (with its links) on `cleanup()`. */
export class TestNamespaces {
  private readonly made: string[] = [];
  private readonly children = new Set<ChildProcess>();

  /** A new named namespace, nsmk-<label>-<random>, with lo up. */
  async add(label: string): Promise<TestNetns> {
    const name = `${TEST_NETNS_PREFIX}${label}-${randomBytes(4).toString('hex')}`;
    recordNetns(name);
    madeByThisProcess.add(name);
    await run('ip', ['netns', 'add', name]);
    this.made.push(name);
    await run('ip', ['-n', name, 'link', 'set', 'dev', 'lo', 'up']);
    return { name, path: `/var/run/netns/${name}` };
  }

  /** Starts `ip netns exec NAME ...args`; the process is killed on cleanup if still running. */
  spawnIn(ns: TestNetns, args: string[]): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', ns.name, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.children.add(child);
    child.on('exit', () => this.children.delete(child));
    return child;
  }

  /** Runs a Node snippet inside ns and resolves with its stdout once it exits 0. */
  async nodeIn(ns: TestNetns, script: string, timeoutMs = 10_000): Promise<string> {
    const { stdout } = await run('ip', ['netns', 'exec', ns.name, process.execPath, '-e', script], {
      timeout: timeoutMs,
    });
    return stdout;
  }

  async cleanup(): Promise<void> {
    for (const child of this.children) child.kill('SIGKILL');
    await Promise.all(
      [...this.children].map(
        (c) =>
          new Promise<void>((resolve) => (c.exitCode !== null ? resolve() : c.once('exit', () => resolve()))),
      ),
    );
    const names = this.made.splice(0);
    await Promise.all(names.map((n) => run('ip', ['netns', 'del', n]).catch(() => undefined)));
  }
}

/** Test namespaces of this process that are still there (should be none after a run). */
export async function leftoverNamespaces(): Promise<string[]> {
  const { stdout } = await run('ip', ['netns', 'list']);
  return stdout
    .split('\n')
    .map((l) => l.split(' ')[0])
    .filter((name) => name.startsWith(TEST_NETNS_PREFIX) && madeByThisProcess.has(name));
}

/** Names of the links in our own namespace (tests compare before and after). */
export async function ownLinkNames(): Promise<string[]> {
  const { stdout } = await run('ip', ['-o', 'link', 'show']);
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(': ')[1]?.split('@')[0] ?? l)
    .sort();
}

/** Resolves with the first stdout line of child that matches, or rejects after timeoutMs. */
export function waitForLine(child: ChildProcess, match: RegExp, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    let err = '';
    const timer = setTimeout(
      () => done(new Error(`timed out waiting for ${match} (stdout ${buf}, stderr ${err})`)),
      timeoutMs,
    );
    const onData = (d: Buffer) => {
      buf += d.toString();
      const line = buf.split('\n').find((l) => match.test(l));
      if (line !== undefined) done(undefined, line);
    };
    const onErr = (d: Buffer) => {
      err += d.toString();
    };
    const onExit = (code: number | null) =>
      done(new Error(`exited with ${code} before ${match} (stdout ${buf}, stderr ${err})`));
    const done = (e?: Error, line?: string) => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onErr);
      child.off('exit', onExit);
      if (e) reject(e);
      else resolve(line as string);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onErr);
    child.on('exit', onExit);
  });
}
