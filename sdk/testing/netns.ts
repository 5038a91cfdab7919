// Throw-away named network namespaces (nsmut-<label>-<random>) for tests that need a real namespace
// for netns resolution; `cleanup()` deletes every one made. Needs root.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { recordNetns } from '../tools/sandbox/owned.js';

const run = promisify(execFile);

export const TEST_NETNS_PREFIX = 'nsmut-';

export interface TempNetns {
  readonly name: string;
  /** /var/run/netns/NAME */
  readonly path: string;
  /** file:///var/run/netns/NAME, as a KERNEL mechanism's inodeURL. */
  readonly url: string;
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

export class TempNamespaces {
  private readonly made: string[] = [];

  async add(label: string): Promise<TempNetns> {
    const name = `${TEST_NETNS_PREFIX}${label}-${randomBytes(3).toString('hex')}`;
    recordNetns(name);
    await run('ip', ['netns', 'add', name]);
    this.made.push(name);
    const path = `/var/run/netns/${name}`;
    return { name, path, url: `file://${path}` };
  }

  async cleanup(): Promise<void> {
    const names = this.made.splice(0);
    await Promise.all(names.map((n) => run('ip', ['netns', 'del', n]).catch(() => undefined)));
  }
}
