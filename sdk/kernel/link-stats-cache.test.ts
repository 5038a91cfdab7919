import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { getErrorCode } from '../errors/index.js';
import { LinkStatsCache } from './link-stats-cache.js';
import { newRecordingIpRunner } from './recording-ip-runner.js';

const link = (ifname: string, rxBytes: number, ifalias?: string) => ({
  ifname,
  ...(ifalias ? { ifalias } : {}),
  stats64: { rx: { bytes: rxBytes, packets: 2, dropped: 1 }, tx: { bytes: 7, packets: 3, dropped: 2 } },
});

const ENDPOINT = { path: '/var/run/netns/nse' };
const POD = { path: '/var/run/netns/pod' };

describe('link stats cache', () => {
  it('reads a namespace once for every link in it while the read is fresh', async () => {
    const runner = newRecordingIpRunner();
    runner.setJson(
      '-s link show',
      [link('a', 10, 'nsm:1:endpoint'), link('b', 20), link('c', 30)],
      ENDPOINT.path,
    );
    runner.setJson('-s link show', [link('nsm-1', 40, 'nsm:1:client')], POD.path);
    let now = 1000;
    const cache = new LinkStatsCache(runner, { maxAgeMs: 5000, now: () => now });
    // Concurrent callers share the read in flight; later ones the finished read.
    const [a, b] = await Promise.all([cache.read(ENDPOINT, 'a'), cache.read(ENDPOINT, 'b')]);
    now += 4000;
    const c = await cache.read(ENDPOINT, 'c');
    const pod = await cache.read(POD, 'nsm-1');
    assert.deepEqual(a, {
      alias: 'nsm:1:endpoint',
      rxBytes: 10,
      txBytes: 7,
      rxPackets: 2,
      txPackets: 3,
      rxDropped: 1,
      txDropped: 2,
    });
    assert.equal(b.rxBytes, 20);
    assert.equal(c.rxBytes, 30);
    assert.equal(pod.alias, 'nsm:1:client');
    assert.deepEqual(
      runner.queries.map((q) => [q.netns, q.args.join(' ')]),
      [
        [ENDPOINT.path, '-s link show'],
        [POD.path, '-s link show'],
      ],
    );
    // Older than maxAgeMs: read again, with the new counters.
    now += 1000;
    runner.setJson('-s link show', [link('a', 11)], ENDPOINT.path);
    assert.equal((await cache.read(ENDPOINT, 'a')).rxBytes, 11);
    assert.equal(runner.queries.length, 3);
  });

  it('reads again for a link made after the shared read, then says NOT_FOUND', async () => {
    const runner = newRecordingIpRunner();
    runner.setJson('-s link show', [link('a', 1)], ENDPOINT.path);
    let now = 0;
    const cache = new LinkStatsCache(runner, { now: () => now });
    await cache.read(ENDPOINT, 'a');
    now += 10;
    runner.setJson('-s link show', [link('a', 1), link('new', 5)], ENDPOINT.path);
    assert.equal((await cache.read(ENDPOINT, 'new')).rxBytes, 5);
    assert.equal(runner.queries.length, 2);
    now += 10;
    await assert.rejects(cache.read(ENDPOINT, 'gone'), (e: unknown) => {
      assert.equal(getErrorCode(e), status.NOT_FOUND);
      assert.match(String(e), /no link gone in \/var\/run\/netns\/nse/);
      return true;
    });
    assert.equal(runner.queries.length, 3, 'one fresh read for the missing name, not more');
  });

  it('does not keep a failed read: the next caller tries again', async () => {
    const runner = newRecordingIpRunner();
    let fail = true;
    const json = runner.json.bind(runner);
    runner.json = async <T>(...args: Parameters<typeof json>) => {
      if (fail) throw new Error('namespace gone');
      return json<T>(...args);
    };
    runner.setJson('-s link show', [link('a', 3)], POD.path);
    const cache = new LinkStatsCache(runner, { now: () => 0 });
    await assert.rejects(cache.read(POD, 'a'), /namespace gone/);
    fail = false;
    assert.equal((await cache.read(POD, 'a')).rxBytes, 3);
  });
});
