// nftables access for the firewall: loading a ruleset script and reading the rules' counters, in
// this process's network namespace (the CNF's), through the `nft` command.
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { TABLE } from './rules.js';

const exec = promisify(execFile);

export interface Counter {
  rule: string;
  packets: number;
  bytes: number;
}

export interface Nft {
  /** Loads an `nft -f` script atomically (all or nothing). */
  load(script: string): Promise<void>;
  /** The counters of the firewall table's rules, by rule name ("default" for the policy). */
  counters(): Promise<Counter[]>;
  /** Removes the firewall table (a table that is gone is not an error). */
  remove(): Promise<void>;
}

interface NftJson {
  nftables: {
    rule?: { table: string; comment?: string; expr: { counter?: { packets: number; bytes: number } }[] };
  }[];
}

export function newNft(binary = 'nft'): Nft {
  return {
    load: (script) =>
      new Promise<void>((resolve, reject) => {
        const p = spawn(binary, ['-f', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
        let stderr = '';
        p.stderr.on('data', (d) => {
          stderr += d;
        });
        p.on('error', reject);
        p.on('close', (code) =>
          code === 0 ? resolve() : reject(new Error(`nft -f failed: ${stderr.trim()}`)),
        );
        p.stdin.end(script);
      }),
    async counters() {
      const { stdout } = await exec(binary, ['-j', 'list', 'table', 'inet', TABLE]);
      return parseCounters(stdout);
    },
    async remove() {
      await exec(binary, ['delete', 'table', 'inet', TABLE]).catch(() => undefined);
    },
  };
}

/** Counters from `nft -j list table` output (exported for tests). */
export function parseCounters(json: string): Counter[] {
  const out: Counter[] = [];
  for (const item of (JSON.parse(json) as NftJson).nftables) {
    const rule = item.rule;
    if (!rule || rule.table !== TABLE || !rule.comment) continue;
    const counter = rule.expr.find((e) => e.counter)?.counter;
    if (counter) out.push({ rule: rule.comment, packets: counter.packets, bytes: counter.bytes });
  }
  return out;
}
