import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { State } from '../../api/gen/networkservice/connection.js';
import { ClientPool } from '../../sdk/grpc/client-pool.js';
import { newRecordingIpRunner } from '../../sdk/kernel/index.js';
import { connection } from '../../sdk/testing/connections.js';
import { type FakeNsmgr, fakeNsmgr } from '../testing.js';
import { FALLBACK_REFRESH_MS, startUi, type UiServer } from './server.js';
import { colourOf, type Topology } from './topology.js';

const HOPS = ['nsc', 'nsmgr-a', 'fwd-a', 'nse-1'];
const held = (state: State) =>
  connection({
    id: 'nsc-nsmgr-a',
    networkService: 'icmp',
    networkServiceEndpointName: 'nse-1',
    state,
    path: {
      index: 1,
      pathSegments: HOPS.map((name, i) => ({ name, id: i === 0 ? 'nsc-0' : `nsc-${name}` })),
    },
  });

/** Reads Server-Sent Events from the page's stream until `until` accepts one. */
function nextTopology(url: string, until: (t: Topology) => boolean): Promise<Topology> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}api/events`, (res) => {
      let buf = '';
      res.on('data', (chunk: Buffer) => {
        buf += chunk.toString();
        for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
          const t = JSON.parse(buf.slice(0, i).replace(/^data: /, '')) as Topology;
          buf = buf.slice(i + 2);
          if (until(t)) {
            req.destroy();
            resolve(t);
          }
        }
      });
    });
    req.on('error', (e) => (e.message === 'socket hang up' ? undefined : reject(e)));
    req.end();
  });
}

describe('nsmctl ui server', () => {
  let dir: string;
  let nsmgr: FakeNsmgr;
  let ui: UiServer;
  let pool: ClientPool;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nsmctl-ui-'));
    pool = new ClientPool();
    nsmgr = await fakeNsmgr(join(dir, 'nsm.sock'), { connections: [held(State.UP)] });
    ui = await startUi({
      targets: { nsmgrs: [nsmgr.url], registry: nsmgr.url, source: 'test' },
      pool,
      forwarderService: 'forwarder',
      timeoutMs: 1_000,
      kernel: {
        runner: newRecordingIpRunner(),
        resolver: { resolve: async () => ({ path: '/x', inode: 'x' }), list: async () => [] },
      },
      probe: async () => ({ ok: true, detail: 'fake' }),
      host: '127.0.0.1',
      port: 0,
    });
  });
  afterEach(async () => {
    await ui.close();
    await pool.close();
    await nsmgr.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the page and pushes the topology again when a monitor stream reports a change', async () => {
    const page = await fetch(ui.url);
    assert.match(await page.text(), /<svg id="svg"/);
    const first = await nextTopology(ui.url, () => true);
    assert.deepEqual(
      first.connections.map((c) => [c.id, c.colour, c.hops.map((h) => h.state).join(',')]),
      [['nsc-0', 'degraded', 'client,UP,not reached,not reached']],
    );
    assert.equal(first.nodes[0].name, 'nsmgr-a');
    // The nsmgr's MonitorConnections reports the connection DOWN: the page gets it without asking.
    const pushed = nextTopology(ui.url, (t) => t.connections[0]?.hops[1]?.state === 'DOWN');
    const t0 = Date.now();
    nsmgr.monitor.down('nsc-nsmgr-a');
    assert.equal((await pushed).connections[0].colour, 'degraded');
    // Well before the fallback re-read: it came from the stream.
    assert.ok(Date.now() - t0 < FALLBACK_REFRESH_MS / 2, `pushed after ${Date.now() - t0} ms`);
  });

  it('keeps a connection no daemon holds any more, red, and keeps the names it learnt', async () => {
    const gone = nextTopology(ui.url, (t) => t.connections[0]?.gone === true);
    nsmgr.monitor.delete(held(State.UP));
    const t = await gone;
    assert.equal(t.connections[0].colour, 'broken');
    assert.equal(t.connections[0].hops[1].state, 'not held');
    assert.equal(t.nodes[0].name, 'nsmgr-a', 'an nsmgr holding nothing keeps its name');
  });

  it('colours a path by the worst hop', () => {
    assert.equal(colourOf(['client', 'UP', 'UP']), 'up');
    assert.equal(colourOf(['client', 'UP', 'DOWN']), 'degraded');
    assert.equal(colourOf(['client', 'UP', 'unreachable']), 'broken');
    assert.equal(colourOf(['client', 'not held', 'UP']), 'broken');
  });
});
