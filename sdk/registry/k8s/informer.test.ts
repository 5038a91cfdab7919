import assert from 'node:assert/strict';
import { eventually, tick } from '../testing.js';
import type { Cr } from './common.js';
import { type Informer, newInformer } from './informer.js';
import { FakeApiServer } from './testing.js';

const P = 'networkserviceendpoints';
const obj = (name: string, url = 'tcp://1.1.1.1:1'): Cr => ({ metadata: { name }, spec: { name, url } });

/** Timers the test fires by hand, recording each delay. */
function manualTimers() {
  const pending: { fn: () => void; ms: number; cleared: boolean }[] = [];
  return {
    delays: () => pending.map((p) => p.ms),
    pending,
    setTimeout(fn: () => void, ms: number) {
      const t = { fn, ms, cleared: false };
      pending.push(t);
      return {
        clear: () => {
          t.cleared = true;
        },
      };
    },
    fireLast() {
      const t = pending[pending.length - 1];
      assert.ok(t && !t.cleared, 'a restart is scheduled');
      t.fn();
    },
  };
}

describe('k8s informer', () => {
  let fake: FakeApiServer;
  let inf: Informer | undefined;
  let seen: string[];
  const timers = () => manualTimers();

  function start(t = timers(), maxBackoffMs = 1000) {
    inf = newInformer({
      api: fake.api(P),
      onAdd: (o) => seen.push(`add ${o.metadata.name}`),
      onUpdate: (o) => seen.push(`update ${o.metadata.name}`),
      onDelete: (o) => seen.push(`delete ${o.metadata.name}`),
      initialBackoffMs: 100,
      maxBackoffMs,
      setTimeout: (fn, ms) => t.setTimeout(fn, ms),
    });
    return t;
  }

  beforeEach(() => {
    fake = new FakeApiServer();
    seen = [];
  });
  afterEach(async () => {
    await inf?.close();
    inf = undefined;
    assert.equal(fake.openWatches, 0, 'close leaves no watch open');
  });

  it('lists, then watches from the list and asks for bookmarks', async () => {
    fake.put(P, obj('a'));
    start();
    await inf?.synced;
    assert.deepEqual(seen, ['add a']);
    fake.put(P, obj('b'));
    fake.put(P, obj('a', 'tcp://2.2.2.2:2'));
    fake.remove(P, 'b');
    await eventually(() => assert.deepEqual(seen, ['add a', 'add b', 'update a', 'delete b']));
    assert.deepEqual(
      fake.calls.filter((c) => c.startsWith('list')),
      [`list ${P}`],
    );
  });

  it('resumes a broken watch from the last version after a backoff, without relisting', async () => {
    fake.put(P, obj('a'));
    const t = start();
    await inf?.synced;
    fake.breakWatches();
    await tick();
    assert.deepEqual(t.delays(), [100]);
    fake.put(P, obj('b')); // written while the watch is down
    t.fireLast();
    await eventually(() => assert.deepEqual(seen, ['add a', 'add b']));
    assert.equal(fake.calls.filter((c) => c.startsWith('list')).length, 1);
  });

  it('relists on 410 Gone and reports what vanished meanwhile as deletes', async () => {
    fake.put(P, obj('a'));
    fake.put(P, obj('b'));
    const t = start();
    await inf?.synced;
    fake.breakWatches();
    await tick();
    fake.remove(P, 'a');
    fake.put(P, obj('c'));
    fake.compact(); // the history since our version is gone
    t.fireLast();
    await eventually(() => assert.deepEqual(seen.slice(2).sort(), ['add c', 'delete a']));
    assert.equal(fake.calls.filter((c) => c.startsWith('list')).length, 2);
  });

  it('a bookmark moves the version forward, so a reconnect after compaction needs no relist', async () => {
    fake.put(P, obj('a'));
    const t = start();
    await inf?.synced;
    // changes we do not watch (another resource) move the store's version past ours
    fake.put('networkservices', obj('icmp'));
    fake.put('networkservices', obj('vl3'));
    fake.bookmark();
    await tick();
    fake.compact();
    fake.breakWatches();
    await tick();
    t.fireLast();
    await eventually(() => assert.equal(fake.openWatches, 1));
    assert.equal(fake.calls.filter((c) => c.startsWith('list')).length, 1);
    assert.deepEqual(seen, ['add a']);
  });

  it('backs off doubling up to the cap, and resets after a success', async () => {
    fake.failures.set(`list ${P}`, { code: 503, times: 5 });
    const t = start(timers(), 500);
    for (let i = 0; i < 5; i++) {
      await eventually(() => assert.equal(t.pending.length, i + 1));
      t.fireLast();
    }
    await inf?.synced;
    assert.deepEqual(t.delays(), [100, 200, 400, 500, 500]);
    fake.breakWatches();
    await eventually(() => assert.equal(t.pending.length, 6));
    assert.equal(t.delays()[5], 100, 'the successful list reset the backoff');
  });

  it('stops for good on close: no restart, no events', async () => {
    const t = start();
    await inf?.synced;
    fake.breakWatches();
    await tick();
    await inf?.close();
    assert.equal(t.pending[0].cleared, true);
    t.pending[0].fn(); // a timer that fires anyway changes nothing
    fake.put(P, obj('late'));
    await tick();
    assert.deepEqual(seen, []);
  });
});
