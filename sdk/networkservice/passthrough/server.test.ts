import assert from 'node:assert/strict';
import { type Connection, State } from '../../../api/gen/networkservice/connection.js';
import { background } from '../../core/context.js';
import { newNetworkServiceChain } from '../../core/next.js';
import type { NetworkServiceElement } from '../../core/types.js';
import type { Joiner, JoinSpec } from '../../kernel/join.js';
import { request } from '../../testing/connections.js';
import * as metadata from '../metadata/index.js';
import * as passthrough from './index.js';

function fakeJoiner(readyAfter = 0) {
  const joined: JoinSpec[] = [];
  const unjoined: JoinSpec[] = [];
  let polls = 0;
  const joiner: Joiner = {
    async join(spec) {
      joined.push(spec);
    },
    async unjoin(spec) {
      unjoined.push(spec);
    },
    async ready() {
      return ++polls > readyAfter;
    },
  };
  return { joiner, joined, unjoined };
}

/** The next hop (the CNF's nsmgr): records what arrives, answers as the far end would. */
function nextHop() {
  const seen: Connection[] = [];
  const closed: Connection[] = [];
  const el: NetworkServiceElement = {
    async request(_ctx, req) {
      seen.push(structuredClone(req.connection!));
      const conn = req.connection!;
      conn.networkServiceEndpointName ||= 'responder';
      conn.mechanism = { cls: 'LOCAL', type: 'KERNEL', parameters: { name: 'out-1' } };
      conn.labels = { ...conn.labels, nodeName: 'node2' };
      conn.context = {
        ipContext: { srcIpAddrs: ['10.0.0.1/32'], dstIpAddrs: ['10.0.0.0/32'] },
      } as Connection['context'];
      return conn;
    },
    async close(_ctx, conn) {
      closed.push(structuredClone(conn));
    },
  };
  return { el, seen, closed };
}

const incoming = () =>
  request({
    id: 'c1',
    networkServiceEndpointName: 'fw',
    labels: { app: 'client' },
    payload: 'IP',
    mechanism: { cls: 'LOCAL', type: 'KERNEL', parameters: { name: 'in-1' } },
  });

async function eventually(ok: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(ok());
}

describe('passthrough server', () => {
  it('sends the connection on with its own labels, no endpoint and no mechanism; restores the incoming view', async () => {
    const j = fakeJoiner();
    const hop = nextHop();
    const chain = newNetworkServiceChain(
      metadata.newServer(),
      passthrough.newServer({ labels: { app: 'fw' }, joiner: j.joiner }),
      hop.el,
    );
    const conn = await chain.request(background(), incoming());
    assert.deepEqual(hop.seen[0].labels, { app: 'fw' });
    assert.equal(hop.seen[0].networkServiceEndpointName, '');
    assert.equal(hop.seen[0].mechanism, undefined);
    assert.deepEqual(conn.labels, { app: 'client' });
    assert.equal(conn.networkServiceEndpointName, 'fw');
    assert.equal(conn.mechanism?.parameters.name, 'in-1');
    assert.deepEqual(
      conn.context?.ipContext?.dstIpAddrs,
      ['10.0.0.0/32'],
      'the far end’s addresses come back',
    );
    await eventually(() => j.joined.length === 1);
    assert.deepEqual(
      [j.joined[0].client, j.joined[0].endpoint, j.joined[0].payload],
      ['in-1', 'out-1', 'IP'],
    );
  });

  it('waits for the client interface before joining, and joins once per unchanged refresh', async () => {
    const j = fakeJoiner(3);
    const hop = nextHop();
    const chain = newNetworkServiceChain(
      metadata.newServer(),
      passthrough.newServer({ labels: {}, joiner: j.joiner }),
      hop.el,
    );
    const conn = await chain.request(background(), incoming());
    await eventually(() => j.joined.length === 1);
    await chain.request(background(), { connection: conn, mechanismPreferences: [] });
    assert.equal(
      hop.seen[1].networkServiceEndpointName,
      'responder',
      'a refresh goes to the same next endpoint',
    );
    assert.equal(hop.seen[1].mechanism?.parameters.name, 'out-1');
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(j.joined.length, 1);
  });

  it('forgets the next endpoint on a reselect', async () => {
    const j = fakeJoiner();
    const hop = nextHop();
    const chain = newNetworkServiceChain(
      metadata.newServer(),
      passthrough.newServer({ labels: {}, joiner: j.joiner }),
      hop.el,
    );
    const conn = await chain.request(background(), incoming());
    conn.state = State.RESELECT_REQUESTED;
    await chain.request(background(), { connection: conn, mechanismPreferences: [] });
    assert.equal(hop.seen[1].networkServiceEndpointName, '');
  });

  it('closes the connection onward as it was sent, then undoes the join', async () => {
    const j = fakeJoiner();
    const hop = nextHop();
    const chain = newNetworkServiceChain(
      metadata.newServer(),
      passthrough.newServer({ labels: { app: 'fw' }, joiner: j.joiner }),
      hop.el,
    );
    const conn = await chain.request(background(), incoming());
    await eventually(() => j.joined.length === 1);
    await chain.close(background(), conn);
    assert.equal(hop.closed[0].networkServiceEndpointName, 'responder');
    assert.equal(hop.closed[0].mechanism?.parameters.name, 'out-1');
    assert.deepEqual(hop.closed[0].labels, { app: 'fw' });
    assert.equal(j.unjoined.length, 1);
    assert.equal(conn.networkServiceEndpointName, 'fw', 'the caller’s view is back');
  });

  it('refuses a connection that has no kernel interface here', async () => {
    const chain = newNetworkServiceChain(
      metadata.newServer(),
      passthrough.newServer({ labels: {}, joiner: fakeJoiner().joiner }),
      nextHop().el,
    );
    await assert.rejects(chain.request(background(), request({ id: 'x' })), /no kernel interface/);
  });
});
