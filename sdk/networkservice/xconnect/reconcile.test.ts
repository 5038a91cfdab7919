import assert from 'node:assert/strict';
import { newDataplane, newRecordingIpRunner, type RecordingIpRunner } from '../../kernel/index.js';
import { VniAllocator } from '../mechanisms/vxlan/vni.js';
import { linkAlias, ownerTag } from './mechanism.js';
import { newReconciler, type Reconciler } from './reconcile.js';
import { clientNs, fakeResolver, nseNs } from './testing.js';

const OWNER = ownerTag('fwd-1', '10.0.0.1');

/** `ip -d link show` output as iproute2 prints it in JSON. */
const veth = (name: string, ifalias?: string) => ({
  ifindex: 7,
  ifname: name,
  mtu: 1500,
  flags: ['UP'],
  address: '02:00:00:00:00:01',
  linkinfo: { info_kind: 'veth' },
  ...(ifalias ? { ifalias } : {}),
});
const vxlanLink = (name: string, ifalias: string, id: number) => ({
  ...veth(name, ifalias),
  linkinfo: { info_kind: 'vxlan', info_data: { id } },
});

describe('reconciler', () => {
  let runner: RecordingIpRunner;
  let vni: VniAllocator;
  let reconciler: Reconciler;

  function start(): Reconciler {
    reconciler = newReconciler({
      dataplane: newDataplane(runner),
      resolver: fakeResolver(),
      owner: OWNER,
      vni,
      graceMs: 60_000,
    });
    return reconciler;
  }

  beforeEach(() => {
    runner = newRecordingIpRunner();
    vni = new VniAllocator();
    runner.setJson(
      '-d link show',
      [
        veth('nsm-1', linkAlias(OWNER, 'c1', 'client')),
        veth('other', 'nsm:fwd-2@10.0.0.9:c9:client'),
        veth('plain'),
      ],
      clientNs.path,
    );
    runner.setJson('-d link show', [vxlanLink('nse-if', linkAlias(OWNER, 'c2', 'endpoint'), 77)], nseNs.path);
  });
  afterEach(() => reconciler?.close());

  it('finds only its own links, through the dataplane, and claims their VNIs', async () => {
    const r = start();
    await r.ready;
    assert.equal(r.pending, 2);
    assert.equal(vni.has(77), true);
    assert.deepEqual(
      runner.queries.map((q) => q.netns),
      [null, clientNs.path, nseNs.path],
      'its own namespace as null, then every listed one',
    );
  });

  it('hands a found link to the connection that adopts it, once', async () => {
    const r = start();
    await r.ready;
    const alias = linkAlias(OWNER, 'c2', 'endpoint');
    assert.deepEqual(await r.adopt(alias, { path: nseNs.path }), {
      netns: { path: nseNs.path },
      name: 'nse-if',
      kind: 'vxlan',
      vni: 77,
    });
    assert.equal(await r.adopt(alias, { path: nseNs.path }), undefined);
    assert.equal(r.pending, 1);
  });

  // Regression test: every adopt() added its alias to a set that was never pruned, so a forwarder's
  // memory grew by one entry per connection for its whole life. The set is only needed while the scan
  // runs (so the scan does not report an adopted link again).
  it('remembers nothing per connection once the scan is done', async () => {
    const r = start();
    await r.ready;
    for (let i = 0; i < 100; i++)
      await r.adopt(linkAlias(OWNER, `new-${i}`, 'client'), { path: clientNs.path });
    assert.equal(r.remembered, 0);
  });

  it('does not report a link again that was adopted while the scan ran', async () => {
    const r = start();
    const alias = linkAlias(OWNER, 'c1', 'client');
    const early = await r.adopt(alias, { path: clientNs.path });
    assert.equal(early?.name, 'nsm-1', 'looked in the given namespace before the scan reached it');
    await r.ready;
    assert.equal(r.pending, 1, 'only the other link is left');
    assert.equal(r.remembered, 0);
  });

  it('deletes what nobody adopted and gives back its VNI', async () => {
    const r = start();
    await r.ready;
    await r.adopt(linkAlias(OWNER, 'c1', 'client'), { path: clientNs.path });
    assert.equal(await r.sweep(), 1);
    assert.deepEqual(
      runner.batches.map((b) => [b.netns, ...b.commands]),
      [[nseNs.path, 'link del dev nse-if']],
    );
    assert.equal(vni.has(77), false);
    assert.equal(r.pending, 0);
  });

  it('discards an adopted link that does not fit, with its VNI', async () => {
    const r = start();
    await r.ready;
    const l = await r.adopt(linkAlias(OWNER, 'c2', 'endpoint'), { path: nseNs.path });
    await r.discard(l!);
    assert.deepEqual(runner.commands(), ['link del dev nse-if']);
    assert.equal(vni.has(77), false);
  });

  it('skips a namespace it cannot list', async () => {
    runner.setJson('-d link show', 'not a list', clientNs.path);
    const r = start();
    await r.ready;
    assert.equal(r.pending, 1);
  });
});
