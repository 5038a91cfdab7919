// Bulk namespaces for the bench's pods: one `ip -batch` adds (or deletes) hundreds of them in about
// a second, where one `ip netns add` per pod would cost a process each. Every name starts with the
// sandbox id, so a final sweep can find whatever is left.
import { readdirSync, readFileSync } from 'node:fs';
import { listNetns } from '../sdk/tools/sandbox/shell.js';
import type { NodeState } from './context.js';
import { run } from './proc.js';

const created = new Set<string>();

async function batch(lines: readonly string[], force: boolean): Promise<void> {
  if (lines.length === 0) return;
  const r = await run('ip', force ? ['-force', '-batch', '-'] : ['-batch', '-'], {
    input: `${lines.join('\n')}\n`,
  });
  if (r.code !== 0 && !force) throw new Error(`ip -batch: ${r.stderr.trim()}`);
}

/** Adds named namespaces (loopback left down: nothing the bench runs in them uses it). */
export async function addNetns(names: readonly string[]): Promise<void> {
  await batch(
    names.map((n) => `netns add ${n}`),
    false,
  );
  for (const n of names) created.add(n);
}

export async function deleteNetns(names: readonly string[]): Promise<void> {
  await batch(
    names.map((n) => `netns delete ${n}`),
    true,
  );
  for (const n of names) created.delete(n);
}

/** Deletes every namespace this module made, and any other whose name starts with `prefix`. */
export async function sweepNetns(prefix?: string): Promise<void> {
  const all = new Set(created);
  if (prefix) for (const n of await listNetns()) if (n.startsWith(prefix)) all.add(n);
  await deleteNetns([...all]);
}

/** Mount entries and named namespaces right now (the cost of `ip -n` grows with the first). */
export function nodeState(): NodeState {
  let mountEntries = 0;
  let namedNetns = 0;
  try {
    mountEntries = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter(Boolean).length;
  } catch {}
  try {
    namedNetns = readdirSync('/var/run/netns').length;
  } catch {}
  return { mountEntries, namedNetns };
}
