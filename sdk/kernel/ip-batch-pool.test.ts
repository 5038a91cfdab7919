// The long-lived batch processes against a fake `ip` (a shell script speaking iproute2's batch
// protocol), so the protocol handling is tested without root: the sentinel, failure lines, re-queue,
// abort, timeout, idle exit and a namespace path that changes identity.
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { batchProcessArgv, createdNames, printsLoopback } from './ip-batch-lines.js';
import { BatchPool } from './ip-batch-pool.js';
import { isKernelCommandError } from './kernel-command-error.js';

// Like `ip -o -batch -`: one line at a time, the sentinel prints its line, "fail…" stops the process
// with iproute2's two stderr lines, "hang…" never answers. Every start appends the PID to $PIDS.
const FAKE_IP = `#!/bin/bash
echo $$ >> "$(dirname "$0")/pids"
n=0
while IFS= read -r line; do
  n=$((n+1))
  case "$line" in
    "link show dev lo") echo "1: lo: <LOOPBACK,UP> mtu 65536";;
    fail*) echo "RTNETLINK answers: File exists" >&2; echo "Command failed -:$n" >&2; exit 1;;
    hang*) sleep 30;;
    noise*) echo "2: eth0: something else";;
  esac
done
`;
// Like `nsenter --net=PATH cmd...`: drops the option and runs the rest.
const FAKE_NSENTER = `#!/bin/sh
shift
exec "$@"
`;

describe('long-lived ip batch processes', () => {
  let dir: string;
  let pool: BatchPool;
  const pids = async () =>
    (await readFile(join(dir, 'pids'), 'utf8').catch(() => '')).split('\n').filter(Boolean);
  const make = (o: { timeoutMs?: number; idleMs?: number; maxProcesses?: number } = {}) =>
    new BatchPool({
      ipBinary: join(dir, 'ip'),
      nsenterBinary: join(dir, 'nsenter'),
      timeoutMs: o.timeoutMs ?? 10_000,
      idleMs: o.idleMs ?? 10_000,
      maxProcesses: o.maxProcesses ?? 8,
    });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nsm-ipbatch-'));
    await writeFile(join(dir, 'ip'), FAKE_IP);
    await writeFile(join(dir, 'nsenter'), FAKE_NSENTER);
    await chmod(join(dir, 'ip'), 0o755);
    await chmod(join(dir, 'nsenter'), 0o755);
    pool = make();
  });

  afterEach(async () => {
    pool.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('enters a namespace with nsenter, never `ip -n`', () => {
    const bins = { ipBinary: 'ip', nsenterBinary: 'nsenter' };
    assert.deepEqual(batchProcessArgv(null, bins), ['ip', '-o', '-batch', '-']);
    assert.deepEqual(batchProcessArgv('/var/run/netns/pod', bins), [
      'nsenter',
      '--net=/var/run/netns/pod',
      'ip',
      '-o',
      '-batch',
      '-',
    ]);
  });

  it('keeps commands that may print the loopback line (a sentinel look-alike) out of long-lived processes', () => {
    for (const c of ['link show dev lo', 'link show', 'addr show', 'l list', 'route show dev lo']) {
      assert.equal(printsLoopback(c), true, c);
    }
    for (const c of [
      'link show dev nse-1',
      'addr replace 10.0.0.1/32 dev lo',
      'link set dev lo up',
      'link del dev x',
    ]) {
      assert.equal(printsLoopback(c), false, c);
    }
  });

  it('runs many batches, also at once, in one process per namespace', async () => {
    assert.equal(await pool.run(null, ['link set dev a up', 'noise']), true);
    await Promise.all([pool.run(null, ['x']), pool.run(null, ['y', 'z']), pool.run(null, ['w'])]);
    assert.equal((await pids()).length, 1);
    assert.equal(pool.size, 1);
  });

  it('names the failing command, and the next batch gets a new process', async () => {
    await assert.rejects(pool.run(null, ['ok 1', 'fail here', 'never']), (e: unknown) => {
      assert.ok(isKernelCommandError(e));
      assert.equal(e.command, 'fail here');
      assert.equal(e.code, status.ALREADY_EXISTS);
      assert.match(
        e.message,
        /failed to run "ip fail here" in the current network namespace: RTNETLINK answers: File exists/,
      );
      return true;
    });
    assert.equal(await pool.run(null, ['ok 2']), true);
    assert.equal((await pids()).length, 2);
  });

  it('runs batches queued behind a failing one in a new process', async () => {
    const failing = pool.run(null, ['fail now']);
    const queued = [pool.run(null, ['a']), pool.run(null, ['b'])];
    await assert.rejects(failing, (e: unknown) => isKernelCommandError(e) && e.command === 'fail now');
    assert.deepEqual(await Promise.all(queued), [true, true]);
  });

  it('kills a batch that is aborted (CANCELLED) and one that takes too long (DEADLINE_EXCEEDED)', async () => {
    const ac = new AbortController();
    const hung = pool.run(null, ['hang'], ac.signal);
    setTimeout(() => ac.abort(), 50);
    await assert.rejects(hung, (e: unknown) => isKernelCommandError(e) && e.code === status.CANCELLED);
    assert.equal(await pool.run(null, ['after']), true, 'a new process takes the next batch');

    const slow = make({ timeoutMs: 100 });
    try {
      await assert.rejects(
        slow.run(null, ['hang']),
        (e: unknown) => isKernelCommandError(e) && e.code === status.DEADLINE_EXCEEDED,
      );
    } finally {
      slow.close();
    }
  });

  it('retires a process that cached a name when a batch creates that name again (iproute2 caches ifindexes)', async () => {
    const ns = join(dir, 'netns-pod');
    await writeFile(ns, '');
    await pool.run(ns, ['link set dev nsm-1 up']);
    await pool.run(ns, ['link set dev nsm-1 down']);
    assert.equal((await pids()).length, 1, 'names it saw are fine while nothing re-creates them');
    // Created again from another namespace's process (the endpoint's, say): the pod's cache is stale.
    await pool.run(null, [`link add name nse-1 type veth peer name nsm-1 netns ${ns}`]);
    await pool.run(ns, ['link set dev nsm-1 up']);
    assert.equal((await pids()).length, 3, 'the pod namespace got a fresh process');
    assert.deepEqual(createdNames(`link add name a netns /p mtu 1500 type veth peer name b netns /q`), [
      { name: 'a', netns: '/p' },
      { name: 'b', netns: '/q' },
    ]);
    assert.deepEqual(createdNames('link set dev a up'), []);
  });

  it('lets an idle process exit', async () => {
    const idle = make({ idleMs: 50 });
    try {
      await idle.run(null, ['a']);
      assert.equal(idle.size, 1);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(idle.size, 0);
    } finally {
      idle.close();
    }
  });

  it('starts a new process when the namespace path names another namespace, and none when it is gone', async () => {
    const ns = join(dir, 'netns-a');
    await writeFile(ns, '');
    await pool.run(ns, ['a']);
    await pool.run(ns, ['b']);
    assert.equal((await pids()).length, 1);
    // Deleted and re-created under the same name: another inode, another namespace.
    await rm(ns);
    await writeFile(join(dir, 'other'), ''); // keeps the old inode number from being reused at once
    await writeFile(ns, '');
    await pool.run(ns, ['c']);
    assert.equal((await pids()).length, 2);
    await rm(ns);
    assert.equal(
      await pool.run(ns, ['d']),
      false,
      'gone: the caller runs a one-shot ip, which reports NOT_FOUND',
    );
  });

  it('never holds more than maxProcesses; a warm start does not evict', async () => {
    const small = make({ maxProcesses: 1 });
    try {
      const a = join(dir, 'ns-a');
      const b = join(dir, 'ns-b');
      await writeFile(a, '');
      await writeFile(b, '');
      await small.run(a, ['x']);
      small.warm(b);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(small.size, 1);
      assert.equal(await small.run(b, ['y']), true, 'a batch evicts the idle one');
      assert.equal(small.size, 1);
    } finally {
      small.close();
    }
  });
});
