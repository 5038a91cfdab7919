import assert from 'node:assert/strict';
import { Connection } from '../../../api/gen/networkservice/connection.js';
import type { NetworkServiceEndpoint } from '../../../api/gen/registry/registry.js';
import { eventually } from '../../testing/eventually.js';
import { newDeadEndpointCheck } from './common.js';

const LOCAL = 'unix:///run/nsm/nse-a.sock';
const through = (endpoint: string) =>
  Connection.fromPartial({ id: 'c', networkServiceEndpointName: endpoint });
const settle = () => new Promise((r) => setImmediate(r));

function setup(
  gone: (url: string) => Promise<boolean>,
  unregister?: (nse: NetworkServiceEndpoint) => Promise<void>,
) {
  const unregistered: { name: string; url: string }[] = [];
  const probed: string[] = [];
  const check = newDeadEndpointCheck({
    registry: {
      unregister: async (_ctx, nse) => {
        if (unregister) await unregister(nse);
        unregistered.push({ name: nse.name, url: nse.url });
      },
    },
    localURL: (name) => (name === 'nse-a' ? LOCAL : undefined),
    gone: (url) => {
      probed.push(url);
      return gone(url);
    },
  });
  return { check, unregistered, probed };
}

describe('unregisterdead', () => {
  it('unregisters a local endpoint whose socket is dead, once for all its connections', async () => {
    let answer!: (gone: boolean) => void;
    const t = setup(() => new Promise((r) => (answer = r)));
    for (let i = 0; i < 3; i++) t.check(through('nse-a'));
    assert.deepEqual(t.probed, [LOCAL], 'one probe while one is running');
    answer(true);
    await eventually(() => assert.deepEqual(t.unregistered, [{ name: 'nse-a', url: LOCAL }]));
  });

  it('leaves a local endpoint that still listens registered', async () => {
    const t = setup(async () => false);
    t.check(through('nse-a'));
    await eventually(() => assert.equal(t.probed.length, 1));
    await settle();
    assert.deepEqual(t.unregistered, []);
  });

  it('does not probe endpoints of other nodes, nor a connection without an endpoint', async () => {
    const t = setup(async () => true);
    t.check(through('nse-remote'));
    t.check(through(''));
    await settle();
    assert.deepEqual(t.probed, []);
    assert.deepEqual(t.unregistered, []);
  });

  it('survives a failed unregister, and tries again on the next reselect', async () => {
    let fail = true;
    const t = setup(
      async () => true,
      async () => {
        if (fail) throw new Error('registry unavailable');
      },
    );
    t.check(through('nse-a'));
    await eventually(() => assert.equal(t.probed.length, 1));
    await settle();
    assert.deepEqual(t.unregistered, []);
    fail = false;
    t.check(through('nse-a'));
    await eventually(() => assert.deepEqual(t.unregistered, [{ name: 'nse-a', url: LOCAL }]));
  });
});
