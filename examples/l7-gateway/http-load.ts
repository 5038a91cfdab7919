// HTTP load from a client pod's namespace, for the gateway's tests, demo and bench:
//   node http-load.js --url http://ADDR/path [--count N | --duration-ms MS] [--concurrency C]
//        [--keepalive] [--header name:value ...]
// prints one JSON line: requests, failed (network errors), statuses, the x-backend answers counted,
// the first errors, latency p50/p99 in ms, and requests per second.
import { Agent, request } from 'node:http';
import { parseArgs } from 'node:util';
import type { LoadResult } from '../../sdk/tools/sandbox/l7.js';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    count: { type: 'string' },
    'duration-ms': { type: 'string' },
    concurrency: { type: 'string', default: '1' },
    keepalive: { type: 'boolean', default: false },
    header: { type: 'string', multiple: true, default: [] },
  },
});
if (!values.url) throw new Error('usage: http-load.js --url URL [--count N | --duration-ms MS]');
const url = values.url;
const count = values.count ? Number(values.count) : Number.POSITIVE_INFINITY;
const until = values['duration-ms'] ? Date.now() + Number(values['duration-ms']) : Number.POSITIVE_INFINITY;
const headers = Object.fromEntries(
  values.header.map((h) => [h.slice(0, h.indexOf(':')), h.slice(h.indexOf(':') + 1)]),
);
const agent = new Agent({ keepAlive: values.keepalive, maxSockets: Number(values.concurrency) });
const result: LoadResult = {
  requests: 0,
  failed: 0,
  statuses: {},
  backends: {},
  errors: [],
  p50Ms: 0,
  p99Ms: 0,
  rps: 0,
};
const latencies: number[] = [];

function once(): Promise<void> {
  const start = process.hrtime.bigint();
  return new Promise((resolve) => {
    const req = request(url, { agent, headers }, (res) => {
      const backend = res.headers['x-backend'];
      res.resume();
      res.on('end', () => {
        latencies.push(Number(process.hrtime.bigint() - start) / 1e6);
        result.statuses[res.statusCode ?? 0] = (result.statuses[res.statusCode ?? 0] ?? 0) + 1;
        if (typeof backend === 'string') result.backends[backend] = (result.backends[backend] ?? 0) + 1;
        resolve();
      });
    });
    req.on('error', (e) => {
      result.failed++;
      if (result.errors.length < 5) result.errors.push(e.message);
      resolve();
    });
    req.end();
  });
}

let started = 0;
const t0 = Date.now();
await Promise.all(
  Array.from({ length: Number(values.concurrency) }, async () => {
    while (started < count && Date.now() < until) {
      started++;
      await once();
    }
  }),
);
const elapsed = (Date.now() - t0) / 1000;
latencies.sort((a, b) => a - b);
result.requests = started;
result.p50Ms = latencies[Math.floor(latencies.length * 0.5)] ?? 0;
result.p99Ms = latencies[Math.floor(latencies.length * 0.99)] ?? 0;
result.rps = started / elapsed;
agent.destroy();
process.stdout.write(`${JSON.stringify(result)}\n`);
