// `node dist/bench/observability.js [N]`: what metrics, tracing and the log scope cost one hop, in
// process, without the kernel or the network (which make the setup latency of `npm run bench` so noisy
// on a shared machine that a few microseconds drown in it). The same endpoint prefix as every daemon,
// three ways, interleaved in rounds:
//   base  the prefix without the new elements (updatepath, begin, updatetoken, metadata, timeout, monitor)
//   off   the prefix as shipped (+ metrics, logscope, trace), NSM_METRICS_LISTEN_ON and tracing unset
//   on    the same with metrics recording and tracing exporting over OTLP/HTTP to a local sink
// One sample is a new connection's Request and its Close (a setup and its teardown); the kernel hook
// adds one more span and histogram observation per kernel operation on the forwarder, measured too.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { context, propagation, trace } from '@opentelemetry/api';
import { background } from '../sdk/core/context.js';
import { newNetworkServiceChain } from '../sdk/core/next.js';
import type { NetworkServiceServer } from '../sdk/core/types.js';
import { kernelOperation } from '../sdk/kernel/index.js';
import * as begin from '../sdk/networkservice/begin/index.js';
import * as endpoint from '../sdk/networkservice/chains/endpoint/index.js';
import * as metadata from '../sdk/networkservice/metadata/index.js';
import * as monitor from '../sdk/networkservice/monitor/index.js';
import * as timeout from '../sdk/networkservice/timeout/index.js';
import * as updatepath from '../sdk/networkservice/updatepath/index.js';
import * as updatetoken from '../sdk/networkservice/updatetoken/index.js';
import { request } from '../sdk/testing/connections.js';
import { setMetricsEnabled } from '../sdk/tools/metrics/index.js';
import { setupTracing } from '../sdk/tools/tracing/setup.js';

const N = Number(process.argv[2] ?? 3000);
const ROUNDS = 5;
const LIFETIME_MS = 600_000;

function base(): NetworkServiceServer {
  const mon = new monitor.ConnectionMonitor();
  return newNetworkServiceChain(
    updatepath.newServer('hop'),
    begin.newServer(),
    updatetoken.newServer({ maxTokenLifetimeMs: LIFETIME_MS }),
    metadata.newServer(),
    timeout.newServer({ previousHopWatching: () => false }),
    monitor.newServer(mon),
  );
}

const shipped = (): NetworkServiceServer =>
  endpoint.newServer({ name: 'hop', maxTokenLifetimeMs: LIFETIME_MS });

let seq = 0;
/** µs per Request + Close of a new connection through `chain`, median of N. */
async function measure(chain: NetworkServiceServer): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < N; i++) {
    const req = request({ id: `c${seq++}`, networkService: 'icmp' });
    const t0 = performance.now();
    const conn = await chain.request(background(), req);
    await chain.close(background(), conn);
    samples.push((performance.now() - t0) * 1000);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}

async function kernelOps(): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < N; i++) await kernelOperation('createVethPair', async () => {});
  return ((performance.now() - t0) * 1000) / N;
}

async function main(): Promise<void> {
  // An OTLP/HTTP sink: accepts and drops, so the exporter does its real work (serialise, POST).
  let exported = 0;
  const sink = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      exported++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
  const endpointURL = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;
  const chains = { base: base(), off: shipped(), on: shipped() };
  const results: Record<string, number[]> = { base: [], off: [], on: [], kernelOff: [], kernelOn: [] };
  for (let round = 0; round < ROUNDS; round++) {
    results.base.push(await measure(chains.base));
    results.off.push(await measure(chains.off));
    results.kernelOff.push(await kernelOps());
    setMetricsEnabled(true);
    const tracing = await setupTracing({ serviceName: 'bench', endpoint: endpointURL, env: {} });
    results.on.push(await measure(chains.on));
    results.kernelOn.push(await kernelOps());
    await tracing?.close();
    setMetricsEnabled(false);
    trace.disable();
    context.disable();
    propagation.disable();
  }
  sink.close();
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const r = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, Math.round(med(v) * 10) / 10]));
  process.stdout.write(
    `${JSON.stringify({ n: N, rounds: ROUNDS, usPerSetupAndClose: { base: r.base, off: r.off, on: r.on }, usPerKernelOp: { off: r.kernelOff, on: r.kernelOn }, otlpPosts: exported }, null, 2)}\n`,
  );
  process.exit(0); // the chains' timeout timers (10 min) are not worth closing here
}

await main();
