// The iproute2 runner against the real kernel (root only), inside throw-away namespaces (nsmk-*).
import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { isKernelCommandError, newIpRunner } from './iproute2.js';
import { isRoot, TestNamespaces, type TestNetns, waitForLine } from './testing.js';

describe('iproute2 runner', () => {
  describe('in a real namespace', function () {
    this.timeout(20_000);
    const spaces = new TestNamespaces();
    const runner = newIpRunner();
    let ns: TestNetns;

    before(async function () {
      if (!isRoot()) this.skip();
      ns = await spaces.add('ipr');
    });
    after(() => spaces.cleanup());

    it('runs a batch and reads the result back as JSON', async () => {
      await runner.batch(ns, ['link add name t0 type veth peer name t1', 'link set dev t0 alias hello up']);
      const links = await runner.json<{ ifname: string; ifalias?: string }[]>(ns, [
        'link',
        'show',
        'dev',
        't0',
      ]);
      assert.equal(links[0].ifname, 't0');
      assert.equal(links[0].ifalias, 'hello');
    });

    it('stops at the first failing line and names it', async () => {
      const err = await runner
        .batch(ns, [
          'link add name t2 type veth peer name t3',
          'link add name t2 type veth peer name t4',
          'link add name t5 type veth peer name t6',
        ])
        .catch((e: unknown) => e);
      assert.ok(isKernelCommandError(err));
      assert.equal(err.command, 'link add name t2 type veth peer name t4');
      assert.equal(err.code, status.ALREADY_EXISTS);
      assert.equal(err.netns, ns.path);
      assert.equal(
        err.message,
        `failed to run "ip link add name t2 type veth peer name t4" in ${ns.path}: RTNETLINK answers: File exists`,
      );
      const names = (await runner.json<{ ifname: string }[]>(ns, ['link', 'show'])).map((l) => l.ifname);
      assert.ok(names.includes('t2') && !names.includes('t5'), `t5 must not exist: ${names}`);
    });

    it('enters a /proc/PID/ns/net namespace through nsenter', async () => {
      const sleeper = spaces.spawnIn(ns, [
        process.execPath,
        '-e',
        'console.log("up"); setTimeout(() => {}, 30000)',
      ]);
      await waitForLine(sleeper, /up/);
      const proc = { path: `/proc/${sleeper.pid}/ns/net` };
      await runner.batch(proc, ['link set dev t1 alias via-proc']);
      const [t1] = await runner.json<{ ifalias?: string }[]>(ns, ['link', 'show', 'dev', 't1']);
      assert.equal(t1.ifalias, 'via-proc');
      sleeper.kill('SIGKILL');
    });

    it('reports a namespace that does not exist as NOT_FOUND', async () => {
      await assert.rejects(
        runner.batch({ path: '/var/run/netns/nsmk-does-not-exist' }, ['link show']),
        (e: unknown) => isKernelCommandError(e) && e.code === status.NOT_FOUND && e.command === '',
      );
      await assert.rejects(
        runner.json({ path: '/proc/999999999/ns/net' }, ['link', 'show']),
        (e: unknown) => isKernelCommandError(e) && e.code === status.NOT_FOUND,
      );
    });

    it('returns [] for an empty JSON answer', async () => {
      assert.deepEqual(await runner.json(ns, ['-4', 'route', 'show', 'dev', 'lo']), []);
    });
  });
});
