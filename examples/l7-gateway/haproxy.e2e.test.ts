// HAProxy under the gateway's process manager (haproxy.ts), on loopback in the test's namespace:
// start, a reload that changes the worker, a bad configuration refused with the worker in force
// kept, and nothing left after close. Needs the haproxy binary (not root); in the e2e tier because
// it runs a real proxy.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { getErrorCode } from '../../sdk/errors/index.js';
import { findHaproxy, type Haproxy, startHaproxy } from './haproxy.js';
import { renderConfig } from './haproxy-cfg.js';
import { parseRoutes } from './routes.js';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function statusOf(url: string): Promise<number> {
  return new Promise((resolve, reject) =>
    get(url, { agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', reject),
  );
}

function processesWith(text: string): string[] {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(text);
      } catch {
        return false;
      }
    });
}

describe('l7-gateway HAProxy process', function () {
  this.timeout(30_000);
  let dir: string;
  let port: number;
  let proxy: Haproxy | undefined;
  const cfg = (v: number) =>
    renderConfig(parseRoutes(`spec:\n  rules:\n    - backendRefs: [{name: web, port: ${v}}]\n`, 'r.yaml'), {
      port,
      statsSocket: join(dir, 'haproxy.sock'),
      addresses: {}, // no backend connected: the server is disabled, HAProxy answers 503
    });

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nsm-l7-test-'));
    port = await freePort();
  });

  afterEach(async () => {
    await proxy?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves, reloads into a new worker, refuses a bad configuration and keeps the worker in force', async () => {
    const opts = {
      binary: findHaproxy(),
      cfgFile: join(dir, 'haproxy.cfg'),
      statsSocket: join(dir, 'haproxy.sock'),
    };
    proxy = await startHaproxy(opts, cfg(8080));
    const first = proxy.workerPid;
    assert.equal(await statusOf(`http://127.0.0.1:${port}/`), 503);
    await proxy.reload(cfg(8081));
    assert.notEqual(proxy.workerPid, first);
    assert.match(readFileSync(opts.cfgFile, 'utf8'), /127\.0\.0\.1:8081/);
    const second = proxy.workerPid;
    await assert.rejects(
      proxy.reload(`${cfg(8082)}\nbackend broken\n  server x 127.0.0.1:notaport\n`),
      (e) => {
        assert.equal(getErrorCode(e), status.INVALID_ARGUMENT);
        assert.match(
          (e as Error).message,
          /^failed to check the HAProxy configuration .*haproxy\.cfg\.new: .*ALERT/,
        );
        return true;
      },
    );
    assert.equal(proxy.workerPid, second);
    assert.match(readFileSync(opts.cfgFile, 'utf8'), /127\.0\.0\.1:8081/);
    assert.equal(await statusOf(`http://127.0.0.1:${port}/`), 503);
  });

  it('leaves no HAProxy process after close', async () => {
    const cfgFile = join(dir, 'haproxy.cfg');
    proxy = await startHaproxy(
      { binary: findHaproxy(), cfgFile, statsSocket: join(dir, 'haproxy.sock') },
      cfg(8080),
    );
    await proxy.reload(cfg(8081)); // an old worker too, soft-stopping
    assert.ok(processesWith(cfgFile).length >= 2, 'master and worker run');
    await proxy.close();
    proxy = undefined;
    assert.deepEqual(processesWith(cfgFile), []);
  });
});
