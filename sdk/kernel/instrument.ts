// The hook around every kernel operation: each Dataplane method, timed into
// nsm_kernel_operation_duration_seconds (failures counted by gRPC code) and, with tracing on, run as a
// child span of whatever span is active (the Request of the hop that asked for it, see
// sdk/networkservice/trace). newDataplane wraps its result in it; with metrics and tracing off a call
// costs two boolean checks more.
import { status } from '@grpc/grpc-js';
import { SpanStatusCode, trace } from '@opentelemetry/api';
import { getErrorCode, getErrorMessage } from '../errors/index.js';
import { kernelDuration, kernelFailures, metricsEnabled } from '../tools/metrics/index.js';
import { tracingEnabled } from '../tools/tracing/setup.js';
import type { Dataplane } from './dataplane.js';

const TRACER_NAME = 'nsm-kernel';
/** Methods that are not kernel operations: synchronous hints, passed through untouched. */
const NOT_OPERATIONS = new Set(['prepare']);

/** Runs `fn` as kernel operation `op`: timed, counted, traced, as switched on. */
export async function kernelOperation<T>(op: string, fn: () => Promise<T>): Promise<T> {
  const metrics = metricsEnabled();
  const tracing = tracingEnabled();
  if (!metrics && !tracing) return fn();
  const end = metrics ? kernelDuration.startTimer({ op }) : undefined;
  const run = async (): Promise<T> => {
    try {
      return await fn();
    } catch (e) {
      if (metrics) kernelFailures.inc({ op, code: status[getErrorCode(e)] });
      throw e;
    } finally {
      end?.();
    }
  };
  if (!tracing) return run();
  return trace.getTracer(TRACER_NAME).startActiveSpan(`kernel ${op}`, async (span) => {
    try {
      return await run();
    } catch (e) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: getErrorMessage(e) });
      throw e;
    } finally {
      span.end();
    }
  });
}

/** The same Dataplane, every method going through kernelOperation under its own name. */
export function instrumentDataplane(d: Dataplane): Dataplane {
  return new Proxy(d, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function' || typeof prop !== 'string' || NOT_OPERATIONS.has(prop)) return v;
      return (...args: unknown[]) => kernelOperation(prop, () => v.apply(target, args));
    },
  });
}
