import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { background } from '../../core/context.js';
import { newNetworkServiceChain } from '../../core/next.js';
import { getErrorCode } from '../../errors/index.js';
import { recorder } from '../../testing/checks.js';
import { pathOf, request } from '../../testing/connections.js';
import { withPeer } from '../../tools/unixpeer/index.js';
import * as updatepath from './index.js';

describe('updatepath server', () => {
  it('makes our segment current for the rest of the chain and gives the caller its own view back', async () => {
    const rec = recorder();
    const chain = newNetworkServiceChain(updatepath.newServer('nsmgr'), rec);
    const conn = await chain.request(background(), request(pathOf(['nsc'])));
    const seen = rec.calls[0].request!.connection!;
    assert.equal(seen.path?.index, 1);
    assert.equal(seen.path?.pathSegments[1].name, 'nsmgr');
    assert.equal(seen.id, seen.path?.pathSegments[1].id);
    assert.notEqual(seen.id, 'nsc-id-0');
    assert.equal(conn.path?.index, 0, 'the caller gets its index back');
    assert.equal(conn.id, 'nsc-id-0', 'and its own connection id');
    assert.equal(conn.path?.pathSegments.length, 2);
  });

  it('keeps the same segment id across refreshes', async () => {
    const rec = recorder();
    const chain = newNetworkServiceChain(updatepath.newServer('nsmgr'), rec);
    const first = await chain.request(background(), request(pathOf(['nsc'])));
    await chain.request(background(), request({ id: first.id, path: first.path }));
    const [a, b] = rec.calls.map((c) => c.request!.connection!.id);
    assert.equal(a, b);
  });

  it('chains hop after hop', async () => {
    const rec = recorder();
    const chain = newNetworkServiceChain(
      updatepath.newServer('nsmgr'),
      updatepath.newServer('forwarder'),
      updatepath.newServer('nse'),
      rec,
    );
    const conn = await chain.request(background(), request(pathOf(['nsc'])));
    const seen = rec.calls[0].request!.connection!;
    assert.deepEqual(
      seen.path?.pathSegments.map((s) => s.name),
      ['nsc', 'nsmgr', 'forwarder', 'nse'],
    );
    assert.equal(seen.path?.index, 3);
    assert.equal(conn.path?.index, 0);
    assert.equal(conn.id, 'nsc-id-0');
  });

  it('moves close to our segment too', async () => {
    const rec = recorder();
    const chain = newNetworkServiceChain(updatepath.newServer('nsmgr'), rec);
    const conn = await chain.request(background(), request(pathOf(['nsc'])));
    await chain.close(background(), conn);
    const closed = rec.calls[1].conn!;
    assert.equal(closed.path?.index, 1);
    assert.equal(closed.id, rec.calls[0].request!.connection!.id);
  });

  it('fails the request for a forged connection id without calling the rest', async () => {
    const rec = recorder();
    const chain = newNetworkServiceChain(updatepath.newServer('nsmgr'), rec);
    await assert.rejects(
      chain.request(background(), request({ ...pathOf(['nsc']), id: 'forged' })),
      /does not match/,
    );
    await assert.rejects(
      chain.close(background(), request({ ...pathOf(['nsc']), id: 'forged' }).connection!),
    );
    assert.equal(rec.calls.length, 0);
  });

  it('rejects a request without a connection', async () => {
    const req = request();
    req.connection = undefined;
    await assert.rejects(
      newNetworkServiceChain(updatepath.newServer('x')).request(background(), req),
      /no connection/,
    );
  });

  it('needs a name', () => {
    assert.throws(() => updatepath.newServer(''), /name is required/);
  });
});

describe('updatepath client', () => {
  it('creates the first segment and keeps it current on the way back', async () => {
    const rec = recorder();
    const chain = newNetworkServiceChain(updatepath.newClient('nsc'), rec, updatepath.newServer('nsmgr'));
    const conn = await chain.request(background(), request({ id: 'my-id' }));
    const seen = rec.calls[0].request!.connection!;
    assert.deepEqual(
      seen.path?.pathSegments.map((s) => s.name),
      ['nsc'],
    );
    assert.equal(seen.id, 'my-id');
    assert.equal(conn.path?.index, 0);
    assert.equal(conn.id, 'my-id');
    assert.deepEqual(
      conn.path?.pathSegments.map((s) => s.name),
      ['nsc', 'nsmgr'],
    );
  });

  it('keeps its own index when it is not the first hop (unlike the server)', async () => {
    const chain = newNetworkServiceChain(updatepath.newClient('fwd-client'));
    const conn = await chain.request(background(), request(pathOf(['nsc', 'nsmgr'])));
    assert.equal(conn.path?.index, 2);
    assert.equal(conn.id, conn.path?.pathSegments[2].id);
  });

  it('moves close to its segment', async () => {
    const rec = recorder();
    const chain = newNetworkServiceChain(updatepath.newClient('nsc'), rec);
    const conn = await chain.request(background(), request({ id: 'my-id' }));
    await chain.close(background(), conn);
    assert.equal(rec.calls[1].conn?.id, 'my-id');
    assert.equal(rec.calls[1].conn?.path?.index, 0);
  });

  it('needs a name', () => {
    assert.throws(() => updatepath.newClient(''), /name is required/);
  });

  it('refuses a request from another process whose path already passes through this hop (a loop), at once', async () => {
    const rec = recorder();
    const chain = newNetworkServiceChain(updatepath.newServer('forwarder-1'), rec);
    const wire = withPeer(background(), { transport: 'unix', path: '/x.sock', pids: async () => [1] });
    for (const names of [
      ['nsc', 'nsmgr', 'forwarder-1'],
      ['nsc', 'forwarder-1', 'nsmgr', 'forwarder-1', 'nsmgr'],
    ]) {
      const req = request(pathOf(names));
      req.connection!.path!.index = names.length - 1;
      req.connection!.id = req.connection!.path!.pathSegments[names.length - 1].id;
      await assert.rejects(chain.request(wire, req), (e: unknown) => {
        assert.equal(getErrorCode(e), status.FAILED_PRECONDITION);
        assert.match(
          String(e),
          /a loop, the path already passes through "forwarder-1" \(segment \d: nsc -> /,
        );
        return true;
      });
    }
    assert.equal(rec.calls.length, 0, 'nothing after updatepath ran');
    // A CNF chain passes this hop again, through another endpoint each round: not a loop.
    const chained = ['nsc', 'forwarder-1', 'nse-firewall', 'forwarder-1', 'nse-passthrough'];
    const through = request(pathOf(chained));
    through.connection!.path!.index = chained.length - 1;
    through.connection!.id = through.connection!.path!.pathSegments[chained.length - 1].id;
    await chain.request(wire, through);
    assert.equal(rec.calls.length, 1);
    rec.calls.length = 0;
    // The same path re-entering inside the process (no transport) is the usual refresh.
    const req = request(pathOf(['nsc', 'nsmgr', 'forwarder-1']));
    req.connection!.path!.index = 2;
    req.connection!.id = req.connection!.path!.pathSegments[2].id;
    await chain.request(background(), req);
    assert.equal(rec.calls.length, 1);
  });
});
