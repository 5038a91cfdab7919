// The mesh's Prometheus metrics, in one registry of their own (not prom-client's global one, so a
// library that registers there cannot collide with ours). Creating them registers nothing outside
// this module and records nothing: chain elements and the kernel hook ask `metricsEnabled()` first,
// so with NSM_METRICS_LISTEN_ON unset the only cost on a Request is that one check.
//
// Label `hop` is the daemon's name on the path segment: in-process sandboxes run several daemons in
// one process, and a dashboard wants one line per nsmgr/forwarder anyway.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export const registry = new Registry();

let enabled = false;

/** True once a daemon serves metrics (setupMetrics); elements record nothing before. */
export function metricsEnabled(): boolean {
  return enabled;
}

/** Turns recording on or off (setupMetrics does; tests too). */
export function setMetricsEnabled(on: boolean): void {
  enabled = on;
}

/** Setup latency spans 1 ms (a refresh on a warm hop) to 30 s (a heal through a dead peer's timeout). */
const LATENCY_BUCKETS_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** A kernel operation is one `ip -batch` (~1 ms warm) up to a stuck namespace's timeout. */
const KERNEL_BUCKETS_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5];

export const requests = new Counter({
  name: 'nsm_requests_total',
  help: 'NetworkService Requests handled by this hop, by network service, kind (setup or refresh) and gRPC code (OK on success).',
  labelNames: ['hop', 'service', 'kind', 'code'] as const,
  registers: [registry],
});

export const closes = new Counter({
  name: 'nsm_closes_total',
  help: 'NetworkService Closes handled by this hop, by network service and gRPC code (OK on success).',
  labelNames: ['hop', 'service', 'code'] as const,
  registers: [registry],
});

export const requestDuration = new Histogram({
  name: 'nsm_request_duration_seconds',
  help: 'Time from a Request entering this hop to its answer, including every hop after it, by kind (setup or refresh).',
  labelNames: ['hop', 'service', 'kind'] as const,
  buckets: LATENCY_BUCKETS_SECONDS,
  registers: [registry],
});

export const connections = new Gauge({
  name: 'nsm_connections',
  help: 'Connections this hop holds now (set up and not yet closed or expired).',
  labelNames: ['hop', 'service'] as const,
  registers: [registry],
});

export const heals = new Counter({
  name: 'nsm_heals_total',
  help: 'Heals started by a client, by how they ended (healed, stopped).',
  labelNames: ['client', 'result'] as const,
  registers: [registry],
});

export const reselects = new Counter({
  name: 'nsm_reselects_total',
  help: 'Heal attempts that closed the old path and asked for a new endpoint or forwarder.',
  labelNames: ['client'] as const,
  registers: [registry],
});

export const kernelDuration = new Histogram({
  name: 'nsm_kernel_operation_duration_seconds',
  help: 'Duration of kernel operations (create veth/vxlan, configure, delete, queries), successful or not.',
  labelNames: ['op'] as const,
  buckets: KERNEL_BUCKETS_SECONDS,
  registers: [registry],
});

export const kernelFailures = new Counter({
  name: 'nsm_kernel_operation_failures_total',
  help: 'Kernel operations that failed, by operation and gRPC code of the error.',
  labelNames: ['op', 'code'] as const,
  registers: [registry],
});

export const registryOperations = new Counter({
  name: 'nsm_registry_operations_total',
  help: 'Registry calls that reached the store, by registry (nse, ns), operation and gRPC code.',
  labelNames: ['registry', 'op', 'code'] as const,
  registers: [registry],
});

export const registrySize = new Gauge({
  name: 'nsm_registry_entries',
  help: 'Entries in the registry store now, by registry (nse, ns).',
  labelNames: ['registry'] as const,
  registers: [registry],
});
