// Prints HAProxy's per-route counters from its stats socket (`show stat`), one JSON line per route
// rule (backend `<route>.<rule>`) and per backend service in it:
// `node dist/examples/l7-gateway/counters.js /tmp/nsm-l7-<name>/haproxy.sock`.
import { statsCommand } from './haproxy.js';

export interface Counter {
  /** `<route>.<rule>`, the HAProxy backend. */
  rule: string;
  /** The network service (HAProxy server), or BACKEND for the rule's total. */
  backend: string;
  requests: number;
  /** Responses by class, and retries / redispatches done. */
  '2xx': number;
  '5xx': number;
  retries: number;
  status: string;
}

export function parseStat(csv: string): Counter[] {
  const [head, ...rows] = csv.trim().split('\n');
  const keys = (head ?? '').replace(/^# /, '').split(',');
  return rows
    .map((r) => Object.fromEntries(r.split(',').map((v, i) => [keys[i], v])))
    .filter((r) => r.pxname !== 'http' && r.pxname !== 'no-route' && r.svname !== 'FRONTEND')
    .map((r) => ({
      rule: r.pxname,
      backend: r.svname,
      requests: Number(r.stot ?? 0),
      '2xx': Number(r.hrsp_2xx || 0),
      '5xx': Number(r.hrsp_5xx || 0),
      retries: Number(r.wretr || 0),
      status: r.status,
    }));
}

if (process.argv[1]?.endsWith('counters.js')) {
  try {
    const socket = process.argv[2];
    if (!socket) throw new Error('usage: counters.js STATS_SOCKET');
    for (const c of parseStat(await statsCommand(socket, 'show stat')))
      process.stdout.write(`${JSON.stringify(c)}\n`);
  } catch (e) {
    process.stderr.write(`l7-gateway counters: ${(e as Error).message}\n`);
    process.exitCode = 1;
  }
}
