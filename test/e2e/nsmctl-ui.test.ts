// `nsmctl ui` in a real headless browser (Debian's chromium driven by playwright-core): the page
// shows every connection of a sandbox mesh, green; when the endpoint is killed the paths turn red
// (the endpoint's monitor stream ends, the server re-reads the mesh and pushes it); a click shows
// diagnose naming the endpoint. Screenshots of both states are saved under SCREENSHOT_DIR.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { reach } from '../../nsmctl/probe.js';
import { startUi, type UiServer } from '../../nsmctl/ui/server.js';
import { ClientPool } from '../../sdk/grpc/client-pool.js';
import { newIpRunner, newNetnsResolver } from '../../sdk/kernel/index.js';
import { Sandbox } from '../../sdk/tools/sandbox/sandbox.js';

const CHROMIUM = process.env.NSM_CHROMIUM ?? '/usr/bin/chromium';
const SCREENSHOT_DIR = process.env.NSM_UI_SCREENSHOTS ?? '/tmp/nsm-ui';
/** From the kill until the page shows it: the stream's end, a debounce, one re-read, one push. */
const TURNS_RED_MS = 15_000;

describe('nsmctl ui (e2e, headless chromium)', function () {
  this.timeout(120_000);
  let sb: Sandbox;
  let ui: UiServer;
  let browser: Browser;
  const pool = new ClientPool();
  const runner = newIpRunner({ longLived: false });

  before(async () => {
    assert.ok(
      existsSync(CHROMIUM),
      `no chromium at ${CHROMIUM}: apt-get install -y chromium (or set NSM_CHROMIUM)`,
    );
    sb = await Sandbox.create({ nodes: 2 });
  });
  after(async () => {
    await browser?.close();
    await ui?.close();
    await pool.close();
    await runner.close();
    await sb?.close();
  });

  it('draws every connection, turns the paths red when the endpoint dies, and diagnoses on click', async () => {
    const [node1, node2] = sb.nodes;
    const nsePod = await sb.addPod(node2, 'nse-1');
    const nse = await sb.startEndpoint(nsePod, { NSM_SERVICE_NAMES: 'ui', NSM_CIDR_PREFIX: '172.16.7.0/24' });
    const ids: string[] = [];
    for (const node of [node2, node1]) {
      const pod = await sb.addPod(node, `nsc-${node.name}`);
      ids.push((await sb.startClient(pod, 'kernel://ui/nsm-1')).connections[0].id);
    }
    ui = await startUi({
      targets: {
        nsmgrs: sb.nodes.map((n) => `unix://${n.nsmgrSocket}`),
        registry: `unix://${node1.nsmgrSocket}`,
        source: 'test',
      },
      pool,
      forwarderService: 'forwarder',
      timeoutMs: 1_500,
      kernel: { runner, resolver: newNetnsResolver() },
      probe: reach,
      host: '127.0.0.1',
      port: 0,
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    const page = await browser.newPage({ viewport: { width: 1400, height: 700 } });
    await page.goto(ui.url);
    const states = () =>
      page.$$eval('polyline[data-connection]', (ls) =>
        Object.fromEntries(ls.map((l) => [l.getAttribute('data-connection'), l.getAttribute('data-state')])),
      );
    await page.waitForFunction(
      `document.querySelectorAll('polyline[data-state="up"]').length === ${ids.length}`,
      null,
      {
        timeout: 20_000,
      },
    );
    assert.deepEqual(await states(), Object.fromEntries(ids.map((id) => [id, 'up'])));
    // Every hop of each path has a box, so each line is drawn through all of them.
    const boxes = await page.$$eval('g[data-daemon]', (gs) =>
      gs.map((g) => g.getAttribute('data-daemon')).sort(),
    );
    for (const name of [
      'nsmgr-node1',
      'nsmgr-node2',
      'forwarder-node1',
      'forwarder-node2',
      'nse-1',
      'nsc-node1',
      'nsc-node2',
    ]) {
      assert.ok(boxes.includes(name), `no box for ${name} in ${boxes.join(', ')}`);
    }
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'topology-up.png') });

    nse.kill();
    await page.waitForFunction(
      `document.querySelectorAll('polyline[data-state="broken"]').length === ${ids.length}`,
      null,
      {
        timeout: TURNS_RED_MS,
      },
    );
    assert.deepEqual(await states(), Object.fromEntries(ids.map((id) => [id, 'broken'])));
    const endpointBox = await page.$eval('g[data-daemon="nse-1"]', (g) => g.getAttribute('data-ok'));
    assert.equal(endpointBox, 'false');

    await page.click(`circle[data-connection-dot="${ids[0]}"]`);
    await page.waitForFunction("/FAIL|OK/.test(document.getElementById('diagnose').textContent)", null, {
      timeout: 20_000,
    });
    const verdict = (await page.textContent('#diagnose'))?.split('\n')[0] ?? '';
    assert.match(verdict, new RegExp(`^${ids[0]}: FAIL at nse-1 \\(endpoint\\): unreachable`));
    await page.waitForFunction("/Client end:/.test(document.getElementById('describe').textContent)");
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'topology-endpoint-killed.png') });
  });
});
