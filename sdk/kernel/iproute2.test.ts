import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { isNsmError } from '../errors/index.js';
import { ipArgv, isKernelCommandError, kernelErrorCode, newIpRunner, parseBatchFailure } from './iproute2.js';
import { isRoot, TestNamespaces, type TestNetns, waitForLine } from './testing.js';

describe('iproute2 runner', () => {
  describe('argv', () => {
    it('runs ip directly in our own namespace', () => {
      assert.deepEqual(ipArgv(null, ['-batch', '-']), ['ip', '-batch', '-']);
    });
    it('enters a named namespace with nsenter too (`ip -n` copies the mount table)', () => {
      assert.deepEqual(ipArgv({ path: '/var/run/netns/pod' }, ['-json', 'link', 'show']), [
        'nsenter',
        '--net=/var/run/netns/pod',
        'ip',
        '-json',
        'link',
        'show',
      ]);
    });
    it('enters any other namespace path with nsenter', () => {
      assert.deepEqual(ipArgv({ path: '/proc/42/ns/net' }, ['-batch', '-']), [
        'nsenter',
        '--net=/proc/42/ns/net',
        'ip',
        '-batch',
        '-',
      ]);
    });
  });

  describe('errors', () => {
    it('maps the failing line back from "Command failed -:N"', () => {
      assert.deepEqual(parseBatchFailure('RTNETLINK answers: File exists\nCommand failed -:3\n'), {
        line: 3,
        message: 'RTNETLINK answers: File exists',
      });
      assert.equal(parseBatchFailure('nsenter: cannot open /x: No such file or directory\n'), null);
    });

    const codes: [string, status][] = [
      ['RTNETLINK answers: File exists', status.ALREADY_EXISTS],
      ['Error: A VXLAN device with the specified VNI already exists.', status.ALREADY_EXISTS],
      ['Cannot find device "nsm-1"', status.NOT_FOUND],
      ['Device "nsm-1" does not exist.', status.NOT_FOUND],
      ['Cannot open network namespace "x": No such file or directory', status.NOT_FOUND],
      ['RTNETLINK answers: Operation not permitted', status.PERMISSION_DENIED],
      ['Error: Nexthop has invalid gateway.', status.INTERNAL],
    ];
    for (const [stderr, code] of codes) {
      it(`maps ${JSON.stringify(stderr)} to ${status[code]}`, () =>
        assert.equal(kernelErrorCode(stderr), code));
    }

    it('refuses a line that would smuggle in another command', async () => {
      const runner = newIpRunner();
      await assert.rejects(
        runner.batch(null, ['link show dev lo\nlink del dev eth0']),
        (e: unknown) => isNsmError(e) && e.code === status.INVALID_ARGUMENT,
      );
    });

    it('rejects after close', async () => {
      const runner = newIpRunner();
      await runner.close();
      await assert.rejects(
        runner.json(null, ['link', 'show']),
        (e: unknown) => isNsmError(e) && e.code === status.FAILED_PRECONDITION,
      );
    });
  });

  describe('process control', () => {
    let dir: string;
    let slowIp: string;

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'nsmk-'));
      slowIp = join(dir, 'slow-ip');
      await writeFile(slowIp, '#!/bin/sh\nexec sleep 5\n');
      await chmod(slowIp, 0o755);
    });
    after(() => rm(dir, { recursive: true, force: true }));

    it('kills an ip that does not finish in time', async () => {
      const runner = newIpRunner({ ipBinary: slowIp, timeoutMs: 100 });
      await assert.rejects(
        runner.batch(null, ['link show']),
        (e: unknown) => isKernelCommandError(e) && e.code === status.DEADLINE_EXCEEDED,
      );
    });

    it('kills ip when the caller aborts', async () => {
      const runner = newIpRunner({ ipBinary: slowIp });
      const ac = new AbortController();
      const p = runner.json(null, ['link', 'show'], { signal: ac.signal });
      setTimeout(() => ac.abort(), 20);
      await assert.rejects(p, (e: unknown) => isKernelCommandError(e) && e.code === status.CANCELLED);
    });

    it('reports a missing binary as INTERNAL', async () => {
      const runner = newIpRunner({ ipBinary: join(dir, 'no-such-ip') });
      await assert.rejects(
        runner.batch(null, ['link show']),
        (e: unknown) => isKernelCommandError(e) && e.code === status.INTERNAL,
      );
    });
  });

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
