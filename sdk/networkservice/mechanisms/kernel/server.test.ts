import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { background } from '../../../core/context.js';
import { newNetworkServiceChain } from '../../../core/next.js';
import { recorder } from '../../../testing/checks.js';
import { request } from '../../../testing/connections.js';
import * as metadata from '../../metadata/index.js';
import { mechanism } from '../common.js';
import * as kernel from './index.js';

const own = () => {
  const st = statSync('/proc/self/ns/net', { bigint: true });
  return `inode://${st.dev}/${st.ino}`;
};

function setup() {
  const rec = recorder();
  return { rec, chain: newNetworkServiceChain(metadata.newServer(), kernel.newServer(), rec) };
}

describe('kernel mechanism server', () => {
  it('answers a KERNEL preference with its own namespace and the requested name', async () => {
    const { rec, chain } = setup();
    const conn = await chain.request(
      background(),
      request({ id: 'a' }, [mechanism('LOCAL', 'KERNEL', { name: 'nse-1', inodeURL: 'inode://1/2' })]),
    );
    assert.deepEqual(conn.mechanism, mechanism('LOCAL', 'KERNEL', { name: 'nse-1', inodeURL: own() }));
    assert.deepEqual(
      rec.calls[0].request?.connection?.mechanism,
      conn.mechanism,
      'set before the rest of the chain',
    );
  });

  it('generates a name when the preference has none', async () => {
    const { chain } = setup();
    const conn = await chain.request(
      background(),
      request({ id: 'a', networkService: 'my-service' }, [mechanism('LOCAL', 'KERNEL')]),
    );
    assert.match(conn.mechanism!.parameters.name, /^my-service-[a-z0-9]{4}$/);
  });

  it('keeps the current mechanism and name on a refresh', async () => {
    const { chain } = setup();
    const first = await chain.request(background(), request({ id: 'a' }, [mechanism('LOCAL', 'KERNEL')]));
    const again = await chain.request(background(), {
      connection: first,
      mechanismPreferences: [mechanism('LOCAL', 'KERNEL', { name: 'other' })],
    });
    assert.equal(again.mechanism?.parameters.name, first.mechanism?.parameters.name);
  });

  it('keeps the name it chose when a refresh arrives without the mechanism', async () => {
    const { chain } = setup();
    const first = await chain.request(background(), request({ id: 'a' }, [mechanism('LOCAL', 'KERNEL')]));
    const again = await chain.request(background(), {
      connection: { ...first, mechanism: undefined },
      mechanismPreferences: [mechanism('LOCAL', 'KERNEL')],
    });
    assert.equal(again.mechanism?.parameters.name, first.mechanism?.parameters.name);
  });

  it('picks KERNEL out of several preferences', async () => {
    const { chain } = setup();
    const conn = await chain.request(
      background(),
      request({ id: 'a' }, [mechanism('REMOTE', 'VXLAN'), mechanism('LOCAL', 'KERNEL', { name: 'k' })]),
    );
    assert.equal(conn.mechanism?.type, 'KERNEL');
    assert.equal(conn.mechanism?.parameters.name, 'k');
  });

  const refused: { name: string; prefs: ReturnType<typeof mechanism>[]; want: RegExp }[] = [
    {
      name: 'refuses a request without a KERNEL preference',
      prefs: [mechanism('REMOTE', 'VXLAN')],
      want: /no supported mechanism in mechanism_preferences \(got REMOTE\/VXLAN; this endpoint supports KERNEL\)/,
    },
    { name: 'refuses a request without preferences', prefs: [], want: /\(got none;/ },
    {
      name: 'refuses an invalid interface name',
      prefs: [mechanism('LOCAL', 'KERNEL', { name: 'bad/name' })],
      want: /mechanism parameter "name" "bad\/name" may only contain/,
    },
  ];
  for (const c of refused) {
    it(c.name, async () => {
      const { rec, chain } = setup();
      await assert.rejects(
        chain.request(background(), request({ id: 'a' }, c.prefs)),
        (e: Error & { code?: number }) => {
          assert.equal(e.code, 3);
          assert.match(e.message, c.want);
          return true;
        },
      );
      assert.equal(rec.calls.length, 0);
    });
  }
});
