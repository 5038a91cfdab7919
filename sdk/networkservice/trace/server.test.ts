import assert from 'node:assert/strict';
import type * as grpc from '@grpc/grpc-js';
import { context, trace as otel, propagation } from '@opentelemetry/api';
import {
  InMemorySpanExporter,
  NodeTracerProvider,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-node';
import { background, type Context } from '../../core/context.js';
import * as next from '../../core/next.js';
import { newNetworkServiceChain } from '../../core/next.js';
import type { NetworkServiceElement } from '../../core/types.js';
import { outgoingMetadata, withIncomingMetadata } from '../../grpc/metadata.js';
import { kernelOperation } from '../../kernel/index.js';
import { request } from '../../testing/connections.js';
import { injectError } from '../../testing/inject.js';
import { setTracingEnabled } from '../../tools/tracing/setup.js';
import * as trace from './index.js';

/** Stands for the gRPC hop: what the client chain would send becomes the server chain's incoming metadata. */
function wire(server: NetworkServiceElement): NetworkServiceElement & { sent: grpc.Metadata[] } {
  const sent: grpc.Metadata[] = [];
  const over = (ctx: Context) => {
    const md = outgoingMetadata(ctx);
    sent.push(md);
    return withIncomingMetadata(background(), md);
  };
  return {
    sent,
    request: (ctx, req) => server.request(over(ctx), req),
    close: (ctx, conn) => server.close(over(ctx), conn),
  };
}

/** An element doing kernel work, as xconnect does in the forwarder. */
const kernelWork: NetworkServiceElement = {
  async request(ctx, req) {
    await kernelOperation('createVethPair', async () => {});
    return next.server(ctx).request(ctx, req);
  },
  close: (ctx, conn) => next.server(ctx).close(ctx, conn),
};

describe('trace', () => {
  let exporter: InMemorySpanExporter;
  let provider: NodeTracerProvider;
  beforeEach(() => {
    exporter = new InMemorySpanExporter();
    provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    provider.register();
    setTracingEnabled(true);
  });
  afterEach(async () => {
    setTracingEnabled(false);
    await provider.shutdown();
    otel.disable();
    context.disable();
    propagation.disable();
  });

  const byHop = (spans: ReadableSpan[], hop: string) => {
    const s = spans.find((x) => x.attributes['nsm.hop'] === hop);
    assert.ok(s, `no span of ${hop}`);
    return s;
  };

  it('makes the server span a child of the client span through traceparent, and kernel work its child', async () => {
    const hop = wire(newNetworkServiceChain(trace.newServer({ name: 'nsmgr-a' }), kernelWork));
    const chain = newNetworkServiceChain(trace.newClient({ name: 'nsc' }), hop);
    await chain.request(background(), request({ id: 'c1' }));

    assert.match(hop.sent[0].get('traceparent')[0] as string, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    const spans = exporter.getFinishedSpans();
    const client = byHop(spans, 'nsc');
    const server = byHop(spans, 'nsmgr-a');
    const kernel = spans.find((s) => s.name === 'kernel createVethPair');
    assert.ok(kernel);
    assert.equal(server.spanContext().traceId, client.spanContext().traceId);
    assert.equal(server.parentSpanContext?.spanId, client.spanContext().spanId);
    assert.equal(kernel.parentSpanContext?.spanId, server.spanContext().spanId);
    assert.equal(server.name, 'NetworkService/Request');
    assert.equal(server.attributes['nsm.connection.id'], 'c1');
  });

  it('starts a new trace at a server whose caller sent no traceparent', async () => {
    const chain = wire(newNetworkServiceChain(trace.newServer({ name: 'nsmgr-a' })));
    await chain.request(background(), request({ id: 'c1' }));
    const [span] = exporter.getFinishedSpans();
    assert.equal(span.parentSpanContext, undefined);
  });

  it('marks a failed Request as an error and passes the failure on', async () => {
    const chain = newNetworkServiceChain(
      trace.newServer({ name: 'fwd' }),
      injectError({ requestTimes: [1] }),
    );
    await assert.rejects(chain.request(background(), request({ id: 'c1' })), /injected error/);
    const [span] = exporter.getFinishedSpans();
    assert.equal(span.status.code, 2); // SpanStatusCode.ERROR
    assert.match(span.status.message ?? '', /injected error/);
  });

  it('records nothing and sends no traceparent while tracing is off', async () => {
    setTracingEnabled(false);
    const hop = wire(newNetworkServiceChain(trace.newServer({ name: 'nsmgr-a' }), kernelWork));
    const chain = newNetworkServiceChain(trace.newClient({ name: 'nsc' }), hop);
    const conn = await chain.request(background(), request({ id: 'c1' }));
    await chain.close(background(), conn);
    assert.deepEqual(hop.sent[0].get('traceparent'), []);
    assert.equal(exporter.getFinishedSpans().length, 0);
  });
});
