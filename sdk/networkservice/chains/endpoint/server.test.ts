import assert from 'node:assert/strict';
import { background } from '../../../core/context.js';
import * as next from '../../../core/next.js';
import type { NetworkServiceElement } from '../../../core/types.js';
import { recorder } from '../../../testing/checks.js';
import { pathOf, request } from '../../../testing/connections.js';
import * as metadata from '../../metadata/index.js';
import * as endpoint from './index.js';

/** The tail of a test endpoint: accepts, and says whether per-connection metadata was available. */
function accept(seen: { metadata: boolean }[]): NetworkServiceElement {
  return {
    async request(ctx, req) {
      let ok = true;
      try {
        metadata.store(ctx, false, Symbol('probe'), 1);
      } catch {
        ok = false;
      }
      seen.push({ metadata: ok });
      return req.connection!;
    },
    close: (ctx, conn) => next.server(ctx).close(ctx, conn),
  };
}

describe('endpoint chain', () => {
  it('puts its path segment, token and expiry on the connection before its own elements run', async () => {
    const rec = recorder();
    const seen: { metadata: boolean }[] = [];
    const ep = endpoint.newServer({
      name: 'nse-1',
      maxTokenLifetimeMs: 60_000,
      additionalFunctionality: [rec, accept(seen)],
    });
    const conn = await ep.request(background(), request(pathOf(['nsc', 'nsmgr'])));
    const arrived = rec.calls[0].request!.connection!;
    const segment = arrived.path!.pathSegments[arrived.path!.index];
    assert.equal(segment.name, 'nse-1');
    assert.ok(segment.token, 'token set');
    assert.ok(segment.expires && segment.expires.getTime() > Date.now(), 'expiry set');
    assert.deepEqual(seen, [{ metadata: true }]);
    assert.equal(conn.path!.pathSegments.length, 3);
    await ep.close(background(), conn);
  });

  it('shows what it holds on its monitor until the connection is closed', async () => {
    const ep = endpoint.newServer({ name: 'nse-1', additionalFunctionality: [accept([])] });
    const conn = await ep.request(background(), request(pathOf(['nsc'])));
    const events: string[] = [];
    const stop = ep.monitor.subscribe({ pathSegments: [], networkServices: [] }, (ev) =>
      events.push(Object.keys(ev.connections).join(',')),
    );
    const ours = conn.path!.pathSegments[1].id; // this hop's id for the connection
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(events, [ours]);
    await ep.close(background(), conn);
    stop();
    assert.deepEqual(events, [ours, ours]);
  });

  it('refuses to be built without a name', () => {
    assert.throws(() => endpoint.newServer({ name: '' }), /endpoint: a name is required/);
  });
});
