import assert from 'node:assert/strict';
import { State } from '../api/gen/networkservice/connection.js';
import { connection } from '../sdk/testing/connections.js';
import { controlChecks, hopKind, kernelChecks, viewDiff } from './checks.js';
import { verdict } from './diagnose.js';
import type { Hop, Snapshot } from './inspect.js';
import type { KernelEnd } from './kernel-state.js';

const NAMES = ['nsc', 'nsmgr-node2', 'forwarder-node2', 'nse-1'];
const segs = NAMES.map((name) => ({ name, id: `${name}-id` }));
const at = (i: number, state = State.UP) =>
  connection({
    id: segs[i].id,
    networkServiceEndpointName: 'nse-1',
    state,
    path: { index: i, pathSegments: segs },
  });

function snapshot(over: Partial<Snapshot> = {}): Snapshot {
  return { at: 0, nsmgrs: [], registered: [], proxyErrors: new Map(), daemons: [], connections: [], ...over };
}
const reg = (name: string) => ({
  name,
  networkServiceNames: [],
  networkServiceLabels: {},
  url: '',
  expirationTime: undefined,
  initialRegistrationTime: undefined,
  pathIds: [],
});

const END: KernelEnd = {
  ifname: 'nsm-1',
  netnsName: 'pod',
  up: true,
  operState: 'UP',
  addresses: ['172.16.1.1/32'],
  routes: ['172.16.1.0 scope link'],
  neighbours: [],
};

describe('nsmctl diagnose checks', () => {
  it('knows each hop by its place on the path', () => {
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5].map((i) => hopKind(i, 6)),
      ['client', 'nsmgr', 'forwarder', 'nsmgr', 'forwarder', 'endpoint'],
    );
  });

  it('names a dead daemon before the DOWN state its neighbour reports because of it', () => {
    const nsmgr = {
      name: 'nsmgr-node2',
      url: 'unix:///n/node2/nsm.io.sock',
      kind: 'nsmgr' as const,
      connections: [at(1, State.DOWN)],
    };
    const fwd = {
      name: 'forwarder-node2',
      url: 'unix:///n/node2/forwarder.sock',
      kind: 'forwarder' as const,
      connections: [at(2)],
    };
    const nse = {
      name: 'nse-1',
      url: 'unix:///n/node2/nse.sock',
      kind: 'endpoint' as const,
      error: new Error('connect ECONNREFUSED'),
    };
    const snap = snapshot({ daemons: [nsmgr, fwd, nse], registered: [reg('forwarder-node2'), reg('nse-1')] });
    const hops: Hop[] = NAMES.map((name, index) => ({
      index,
      name,
      id: segs[index].id,
      daemon: [nsmgr, fwd, nse].find((d) => d.name === name),
      held: index === 1 ? at(1, State.DOWN) : index === 2 ? at(2) : undefined,
    }));
    const d = verdict('nsc-id', hops, controlChecks(snap, hops));
    assert.equal(d.ok, false);
    assert.equal(d.hop, 'nse-1');
    assert.equal(d.cause, 'unreachable');
    assert.match(
      d.verdict,
      /^nsc-id: FAIL at nse-1 \(endpoint\): unreachable: .*ECONNREFUSED \(not running\?\)$/,
    );
    // The DOWN at the nsmgr is in the evidence, not the verdict.
    assert.ok(d.checks.some((c) => c.hop === 'nsmgr-node2' && c.cause === 'down'));
  });

  it('tells a hung daemon (no answer in time) from a dead one', () => {
    const nse = {
      name: 'nse-1',
      url: 'unix:///x.sock',
      kind: 'endpoint' as const,
      error: new Error('failed to monitor connections at unix:///x.sock: no answer within 1500 ms'),
    };
    const hops: Hop[] = [
      { index: 0, name: 'nsc', id: 'a' },
      { index: 1, name: 'nse-1', id: 'b', daemon: nse },
    ];
    const d = verdict('c', hops, controlChecks(snapshot({ daemons: [nse] }), hops));
    assert.equal(d.cause, 'not-answering');
  });

  it('checks an interface against the context: up, addresses, routes, VNI', () => {
    const ok = kernelChecks('nsc', 'client', END, ['172.16.1.1/32'], ['172.16.1.0/32']);
    assert.ok(
      ok.every((c) => c.ok),
      JSON.stringify(ok),
    );
    const bad = kernelChecks(
      'nsc',
      'client',
      { ...END, up: false, addresses: [] },
      ['172.16.1.1/32'],
      ['172.16.1.9/32'],
      '42',
    );
    assert.deepEqual(
      bad.filter((c) => !c.ok).map((c) => c.cause),
      ['link-down', 'address-missing', 'route-missing', 'vxlan-mismatch'],
    );
    const gone = kernelChecks(
      'nsc',
      'client',
      { ...END, error: 'namespace inode://4/1 not found: no such' },
      [],
      [],
    );
    assert.equal(gone[0].cause, 'namespace-gone');
    const noDev = kernelChecks('nsc', 'client', { ...END, error: 'Cannot find device "nsm-1"' }, [], []);
    assert.equal(noDev[0].cause, 'interface-missing');
  });

  it('says where two neighbours disagree', () => {
    assert.equal(viewDiff(at(1), at(2)), '');
    const other = connection({ ...at(2), networkServiceEndpointName: 'nse-2' });
    assert.equal(viewDiff(at(1), other), 'endpoint nse-1 vs nse-2');
  });

  it('is OK when every check passed, counting what it could not check', () => {
    const d = verdict(
      'c',
      [{ index: 0, name: 'nsc', id: 'a' }],
      [
        { hop: 'nsc', what: 'x', ok: true, detail: '' },
        { hop: 'y', what: 'z', ok: true, skipped: true, detail: '' },
      ],
    );
    assert.equal(d.verdict, 'c: OK (1 hops, 1 checks passed, 1 not checked)');
  });
});
