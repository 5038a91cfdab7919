import assert from 'node:assert/strict';
import {
  type ConnectionEvent,
  ConnectionEventType,
  MonitorScopeSelector,
  State,
} from '../../../api/gen/networkservice/connection.js';
import { connection } from '../../testing/connections.js';
import { tick } from '../../testing/eventually.js';
import { ConnectionMonitor } from './index.js';

const pathFor = (name: string, id: string) => ({ index: 0, pathSegments: [{ name, id }] });
const c = (id: string, networkService = 'icmp') =>
  connection({ id, networkService, path: pathFor('nsc', id) });

function summary(events: ConnectionEvent[]): string[] {
  return events.map((e) =>
    `${ConnectionEventType[e.type]} ${Object.values(e.connections)
      .map((x) => `${x.id}:${State[x.state]}`)
      .sort()
      .join(',')}`.trim(),
  );
}

/** Two subscribers: one selecting everything, one only connection b's path. */
function allAndOnlyB(m: ConnectionMonitor) {
  const all: ConnectionEvent[] = [];
  const onlyB: ConnectionEvent[] = [];
  const stopAll = m.subscribe(MonitorScopeSelector.fromPartial({}), (e) => all.push(e));
  const stopB = m.subscribe(
    MonitorScopeSelector.fromPartial({ pathSegments: [{ name: 'nsc', id: 'b' }] }),
    (e) => onlyB.push(e),
  );
  return {
    all,
    onlyB,
    stop: () => {
      stopAll();
      stopB();
    },
  };
}

describe('connection monitor', () => {
  it('sends the initial state first, asynchronously, never from subscribe itself', async () => {
    const m = new ConnectionMonitor();
    m.update(c('a'));
    m.update(c('b'));
    const events: ConnectionEvent[] = [];
    const stop = m.subscribe(MonitorScopeSelector.fromPartial({}), (e) => events.push(e));
    assert.equal(events.length, 0, 'nothing is sent synchronously');
    await tick();
    assert.deepEqual(summary(events), ['INITIAL_STATE_TRANSFER a:UP,b:UP']);
    stop();
  });

  it('sends an empty initial state when there are no connections', async () => {
    const m = new ConnectionMonitor();
    const events: ConnectionEvent[] = [];
    const stop = m.subscribe(MonitorScopeSelector.fromPartial({}), (e) => events.push(e));
    await tick();
    assert.deepEqual(events, [{ type: ConnectionEventType.INITIAL_STATE_TRANSFER, connections: {} }]);
    stop();
  });

  it('then sends updates and deletes (as DOWN)', async () => {
    const m = new ConnectionMonitor();
    const events: ConnectionEvent[] = [];
    const stop = m.subscribe(MonitorScopeSelector.fromPartial({}), (e) => events.push(e));
    await tick();
    m.update(c('a'));
    m.delete(c('a'));
    assert.deepEqual(summary(events), ['INITIAL_STATE_TRANSFER', 'UPDATE a:UP', 'DELETE a:DOWN']);
    assert.equal(m.get('a'), undefined);
    stop();
  });

  it('folds changes made before the initial state into it instead of sending them twice', async () => {
    const m = new ConnectionMonitor();
    m.update(c('gone'));
    const events: ConnectionEvent[] = [];
    const stop = m.subscribe(MonitorScopeSelector.fromPartial({}), (e) => events.push(e));
    m.update(c('a'));
    m.delete(c('gone'));
    await tick();
    assert.deepEqual(summary(events), ['INITIAL_STATE_TRANSFER a:UP']);
    stop();
  });

  it('filters the initial state, updates and deletes by the selector', async () => {
    const m = new ConnectionMonitor();
    m.update(c('a', 'icmp'));
    m.update(c('b', 'other'));
    const events: ConnectionEvent[] = [];
    const stop = m.subscribe(MonitorScopeSelector.fromPartial({ networkServices: ['icmp'] }), (e) =>
      events.push(e),
    );
    await tick();
    m.update(c('c', 'other'));
    m.update(c('d', 'icmp'));
    m.delete(c('b', 'other'));
    m.delete(c('a', 'icmp'));
    assert.deepEqual(summary(events), ['INITIAL_STATE_TRANSFER a:UP', 'UPDATE d:UP', 'DELETE a:DOWN']);
    stop();
  });

  it('stops sending after unsubscribe, also before the initial state', async () => {
    const m = new ConnectionMonitor();
    const early: ConnectionEvent[] = [];
    m.subscribe(MonitorScopeSelector.fromPartial({}), (e) => early.push(e))();
    const late: ConnectionEvent[] = [];
    const stop = m.subscribe(MonitorScopeSelector.fromPartial({}), (e) => late.push(e));
    await tick();
    stop();
    m.update(c('a'));
    assert.equal(early.length, 0);
    assert.deepEqual(summary(late), ['INITIAL_STATE_TRANSFER']);
  });

  it('marks a connection DOWN without forgetting it, once per outage', async () => {
    const m = new ConnectionMonitor();
    m.update(c('a'));
    const events: ConnectionEvent[] = [];
    const stop = m.subscribe(MonitorScopeSelector.fromPartial({}), (e) => events.push(e));
    await tick();
    assert.equal(m.down('a'), true);
    assert.equal(m.down('unknown'), false);
    assert.equal(m.get('a')?.state, State.DOWN);
    assert.equal(m.down('a'), false, 'a relay retrying a dead next hop repeats itself');
    m.update(c('a')); // healed
    assert.equal(m.down('a'), true);
    assert.deepEqual(summary(events), [
      'INITIAL_STATE_TRANSFER a:UP',
      'UPDATE a:DOWN',
      'UPDATE a:UP',
      'UPDATE a:DOWN',
    ]);
    stop();
  });

  it('takes many connections down, or asks them to reselect, in one event per subscriber, each with what it selects', async () => {
    const m = new ConnectionMonitor();
    for (const id of ['a', 'b', 'c', 'd']) m.update(c(id));
    const { all, onlyB, stop } = allAndOnlyB(m);
    await tick();
    m.reselectMany(['a', 'b', 'unknown']);
    assert.deepEqual(m.downMany(['c', 'd', 'unknown']), ['c', 'd']);
    assert.deepEqual(m.downMany(['b', 'c', 'd']), [], 'c and d were down already');
    m.downMany([]);
    assert.deepEqual(summary(all).slice(1), [
      'UPDATE a:RESELECT_REQUESTED,b:RESELECT_REQUESTED',
      'UPDATE c:DOWN,d:DOWN',
    ]);
    assert.deepEqual(summary(onlyB).slice(1), ['UPDATE b:RESELECT_REQUESTED']);
    stop();
  });

  it('publishes no DOWN for a connection asked to reselect until it is stored again, but keeps it DOWN', async () => {
    const m = new ConnectionMonitor();
    m.update(c('a'));
    const events: ConnectionEvent[] = [];
    const stop = m.subscribe(MonitorScopeSelector.fromPartial({}), (e) => events.push(e));
    await tick();
    m.reselect('a');
    assert.equal(m.get('a')?.state, State.UP, 'a reselect request is not a state');
    assert.equal(m.down('a'), false, 'the forwarder that asked follows with DOWN when its stream breaks');
    assert.equal(m.get('a')?.state, State.DOWN, 'a new subscriber still learns it is down');
    m.update(c('a')); // the client's new Request
    assert.equal(m.down('a'), true);
    m.reselect('a');
    m.delete(c('a'));
    m.update(c('a')); // the same id again, after a Close
    assert.equal(m.down('a'), true);
    assert.deepEqual(summary(events), [
      'INITIAL_STATE_TRANSFER a:UP',
      'UPDATE a:RESELECT_REQUESTED',
      'UPDATE a:UP',
      'UPDATE a:DOWN',
      'UPDATE a:RESELECT_REQUESTED',
      'DELETE a:DOWN',
      'UPDATE a:UP',
      'UPDATE a:DOWN',
    ]);
    stop();
  });

  it('keeps frozen copies: later changes to a reported connection do not leak in, events cannot be changed', async () => {
    const m = new ConnectionMonitor();
    const mine = c('a');
    m.update(mine);
    mine.labels.changed = 'yes';
    const events: ConnectionEvent[] = [];
    const stop = m.subscribe(MonitorScopeSelector.fromPartial({}), (e) => events.push(e));
    await tick();
    assert.throws(() => {
      events[0].connections.a.labels.mutated = 'yes';
    }, TypeError);
    assert.deepEqual(m.get('a')?.labels, {});
    m.down('a');
    assert.equal(events[0].connections.a.state, State.UP, 'an event sent before keeps what it said');
    assert.equal(m.list().length, 1);
    stop();
  });

  it('serves several subscribers, each with its own selector', async () => {
    const m = new ConnectionMonitor();
    const { all, onlyB, stop } = allAndOnlyB(m);
    await tick();
    m.update(c('a'));
    m.update(c('b'));
    assert.deepEqual(summary(all), ['INITIAL_STATE_TRANSFER', 'UPDATE a:UP', 'UPDATE b:UP']);
    assert.deepEqual(summary(onlyB), ['INITIAL_STATE_TRANSFER', 'UPDATE b:UP']);
    stop();
  });
});

describe('connection monitor: visible', () => {
  it('sends a subscriber only what it may see, and only that keeps a connection watched', async () => {
    const m = new ConnectionMonitor();
    m.update(c('a'));
    const got: ConnectionEvent[] = [];
    const stop = m.subscribe(
      MonitorScopeSelector.fromPartial({}),
      (e) => got.push(e),
      (x) => x.id === 'b',
    );
    await tick();
    m.update(c('b'));
    m.update(c('a'));
    m.delete(c('b'));
    assert.deepEqual(summary(got), ['INITIAL_STATE_TRANSFER', 'UPDATE b:UP', 'DELETE b:DOWN']);
    assert.equal(m.watched(c('a')), false, "an empty selector does not hold another's connection");
    stop();
  });
});

describe('connection monitor: watched', () => {
  it('tells whether a subscriber selecting the connection is connected', () => {
    const m = new ConnectionMonitor();
    assert.equal(m.watched(c('a')), false, 'nobody subscribed');
    const stopA = m.subscribe(
      MonitorScopeSelector.fromPartial({ pathSegments: [{ name: 'nsc', id: 'a' }] }),
      () => {},
    );
    assert.equal(m.watched(c('a')), true);
    assert.equal(m.watched(c('b')), false, 'a selector for another connection does not count');
    stopA();
    assert.equal(m.watched(c('a')), false, 'the stream closed (the watcher died)');
    const stopAll = m.subscribe(MonitorScopeSelector.fromPartial({}), () => {});
    assert.equal(m.watched(c('b')), true, 'an empty selector (a relay) watches everything');
    stopAll();
  });
});
