// Turns OpenTelemetry tracing on for this process when a collector is named: NSM_OTEL_EXPORTER_OTLP_ENDPOINT,
// or the standard OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT (and the other
// OTEL_* variables the exporter reads: headers, timeout). Spans go over OTLP/HTTP (protobuf-free
// JSON is not used: the exporter's default). Without a collector nothing is loaded: the SDK and the
// exporter are imported here, dynamically, only when needed; elements see `tracingEnabled()` false
// and only pass calls on (@opentelemetry/api alone is a no-op facade).
import type { Closable } from '../daemon.js';

let enabled = false;

/** True once setupTracing registered a tracer provider (elements do nothing before). */
export function tracingEnabled(): boolean {
  return enabled;
}

/** For tests that register their own provider (an in-memory exporter). */
export function setTracingEnabled(on: boolean): void {
  enabled = on;
}

export interface TracingOptions {
  /** service.name of the spans (OTEL_SERVICE_NAME wins when set). */
  serviceName: string;
  /** NSM_OTEL_EXPORTER_OTLP_ENDPOINT: the collector's base URL (http://host:4318) or host:port. */
  endpoint?: string;
  env?: NodeJS.ProcessEnv;
}

/** Where spans go: the full OTLP/HTTP traces URL, "env" to let the exporter read OTEL_*, or undefined: off. */
export function exportTarget(opts: TracingOptions): string | undefined {
  const env = opts.env ?? process.env;
  if (/^true$/i.test(env.OTEL_SDK_DISABLED ?? '')) return undefined;
  if (opts.endpoint) {
    const base = /^[a-z]+:\/\//i.test(opts.endpoint) ? opts.endpoint : `http://${opts.endpoint}`;
    return base.endsWith('/v1/traces') ? base : `${base.replace(/\/+$/, '')}/v1/traces`;
  }
  if (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT) return 'env';
  return undefined;
}

/** Registers the global tracer provider; `close()` flushes the spans still buffered and unregisters. */
export async function setupTracing(opts: TracingOptions): Promise<Closable | undefined> {
  const target = exportTarget(opts);
  if (target === undefined) return undefined;
  const [{ NodeTracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, { resourceFromAttributes }, api] =
    await Promise.all([
      import('@opentelemetry/sdk-trace-node'),
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/resources'),
      import('@opentelemetry/api'),
    ]);
  const env = opts.env ?? process.env;
  const exporter = new OTLPTraceExporter(target === 'env' ? {} : { url: target });
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': env.OTEL_SERVICE_NAME || opts.serviceName }),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  // The async-local context manager (a span started in one hop's chain is the parent of its kernel
  // operations) and the W3C traceparent propagator.
  provider.register();
  enabled = true;
  let closed: Promise<void> | undefined;
  return {
    close() {
      closed ??= (async () => {
        enabled = false;
        await provider.shutdown(); // exports what is buffered
        api.trace.disable();
        api.context.disable();
        api.propagation.disable();
      })();
      return closed;
    },
  };
}
