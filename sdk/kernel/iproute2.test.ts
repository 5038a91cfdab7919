import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { isNsmError } from '../errors/index.js';
import { eventually } from '../testing/eventually.js';
import { ipArgv, isKernelCommandError, kernelErrorCode, newIpRunner, parseBatchFailure } from './iproute2.js';

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
    let failingIp: string;
    let anyNsenter: string;

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'nsmk-'));
      slowIp = join(dir, 'slow-ip');
      await writeFile(slowIp, '#!/bin/sh\nexec sleep 5\n');
      // Answers the sentinel; any other line fails as iproute2 does (message, failed line, exit 1).
      failingIp = join(dir, 'failing-ip');
      await writeFile(
        failingIp,
        '#!/bin/sh\nn=0\nwhile IFS= read -r l; do n=$((n+1)); case "$l" in "link show dev lo") echo "1: lo: <LOOPBACK>";; *) set -- $l; echo "Cannot find device \\"$4\\"" >&2; echo "Command failed -:$n" >&2; exit 1;; esac; done\n',
      );
      anyNsenter = join(dir, 'any-nsenter'); // enters nothing (no root needed): runs the command
      await writeFile(anyNsenter, '#!/bin/sh\nshift\nexec "$@"\n');
      for (const f of [slowIp, failingIp, anyNsenter]) await chmod(f, 0o755);
    });
    after(() => rm(dir, { recursive: true, force: true }));

    it('kills an ip that does not finish in time', async () => {
      const runner = newIpRunner({ netlink: false, ipBinary: slowIp, timeoutMs: 100 });
      await assert.rejects(
        runner.batch(null, ['link show']),
        (e: unknown) => isKernelCommandError(e) && e.code === status.DEADLINE_EXCEEDED,
      );
    });

    it('kills ip when the caller aborts', async () => {
      const runner = newIpRunner({ netlink: false, ipBinary: slowIp });
      const ac = new AbortController();
      const p = runner.json(null, ['link', 'show'], { signal: ac.signal });
      setTimeout(() => ac.abort(), 20);
      await assert.rejects(p, (e: unknown) => isKernelCommandError(e) && e.code === status.CANCELLED);
    });

    it('starts a pod’s process ahead of its batch from a shell, not from Node; an unprepared namespace earns one after two batches', async () => {
      // Fakes that log every start with the parent's pid ("-o -batch -" is a long-lived process,
      // "-batch -" a shell's one-shot).
      const calls = join(dir, 'calls');
      const fakeIp = join(dir, 'fake-ip');
      await writeFile(
        fakeIp,
        `#!/bin/sh\necho "$* ppid=$PPID" >> '${calls}'\nwhile IFS= read -r l; do [ "$l" = "link show dev lo" ] && echo "1: lo: <LOOPBACK>"; done\nexit 0\n`,
      );
      await chmod(fakeIp, 0o755);
      const pod = join(dir, 'pod');
      const endpoint = join(dir, 'endpoint');
      await writeFile(pod, '');
      await writeFile(endpoint, '');
      const started = async () =>
        (await readFile(calls, 'utf8').catch(() => ''))
          .split('\n')
          .filter(Boolean)
          .map((l) => {
            const [args, ppid] = l.split(' ppid=');
            return { args, byNode: Number(ppid) === process.pid };
          });
      const runner = newIpRunner({
        netlink: false,
        ipBinary: fakeIp,
        nsenterBinary: anyNsenter,
        idleMs: 60_000,
      });
      try {
        runner.prepare?.({ path: pod }); // a request for a new pod
        await eventually(async () =>
          assert.deepEqual(await started(), [{ args: '-o -batch -', byNode: false }]),
        );
        await runner.batch({ path: pod }, ['link set dev nsm-1 up']); // its set-up, after the endpoint answered
        await runner.batch({ path: pod }, ['link del dev nsm-1']);
        assert.equal((await started()).length, 1, 'the prepared process took both batches');

        await runner.batch({ path: endpoint }, ['link set dev a up']); // no prepare: one-shot
        await runner.batch({ path: endpoint }, ['link del dev a']); // the second in a row: one-shot too
        await runner.batch({ path: endpoint }, ['link set dev b up']); // the third: it earned a process
        await runner.batch({ path: endpoint }, ['link del dev b']);
        assert.deepEqual((await started()).slice(1), [
          { args: '-batch -', byNode: false },
          { args: '-batch -', byNode: false },
          { args: '-o -batch -', byNode: false },
        ]);
      } finally {
        await runner.close();
      }
    });

    it('fails a command in a namespace that is gone as ip would (NOT_FOUND), without starting a process', async () => {
      const calls = join(dir, 'gone-calls');
      const fakeIp = join(dir, 'logging-ip');
      await writeFile(fakeIp, `#!/bin/sh\necho "$*" >> '${calls}'\ncat >/dev/null\n`);
      await chmod(fakeIp, 0o755);
      const runner = newIpRunner({
        netlink: false,
        ipBinary: fakeIp,
        nsenterBinary: anyNsenter,
        idleMs: 60_000,
      });
      const gone = { path: join(dir, 'deleted-pod') };
      try {
        for (const run of [
          () => runner.batch(gone, ['link del dev nsm-1']),
          () => runner.json(gone, ['link', 'show']),
        ]) {
          await assert.rejects(
            run(),
            (e: unknown) =>
              isKernelCommandError(e) && e.code === status.NOT_FOUND && e.message.includes(gone.path),
          );
        }
        await writeFile(gone.path, ''); // there again: the fake runs
        await runner.batch(gone, ['link del dev nsm-1']);
        assert.deepEqual((await readFile(calls, 'utf8')).trim().split('\n'), ['-batch -']);
      } finally {
        await runner.close();
      }
    });

    it('reports the error of a shell-started process and runs the next batch in a new one', async () => {
      const runner = newIpRunner({
        netlink: false,
        ipBinary: failingIp,
        nsenterBinary: anyNsenter,
        idleMs: 60_000,
      });
      try {
        runner.prepare?.({ path: '/proc/self/ns/net' });
        await assert.rejects(
          runner.batch({ path: '/proc/self/ns/net' }, ['link set dev x up']),
          (e: unknown) =>
            isKernelCommandError(e) && /Cannot find device "x"/.test(e.message) && !/NSM_IP/.test(e.message),
        );
        await assert.rejects(
          runner.batch({ path: '/proc/self/ns/net' }, ['link set dev y up']),
          /Cannot find device "y"/,
        );
      } finally {
        await runner.close();
      }
    });

    it("keeps an idle shell for shellIdleMs, not for the batch processes' idleMs", async () => {
      const parents = join(dir, 'parents');
      const fakeIp = join(dir, 'ppid-ip');
      await writeFile(fakeIp, `#!/bin/sh\necho $PPID >> '${parents}'\ncat >/dev/null\n`);
      await chmod(fakeIp, 0o755);
      const pods = ['pod-1', 'pod-2'].map((n) => join(dir, n));
      for (const p of pods) await writeFile(p, '');
      const shellOf = async () => (await readFile(parents, 'utf8')).trim().split('\n').at(-1);
      for (const shellIdleMs of [60_000, 20]) {
        const runner = newIpRunner({
          netlink: false,
          ipBinary: fakeIp,
          nsenterBinary: anyNsenter,
          idleMs: 20,
          shellIdleMs,
          shells: 1,
        });
        try {
          await runner.batch({ path: pods[0] }, ['link set dev nsm-1 up']);
          const first = await shellOf();
          await new Promise((r) => setTimeout(r, 300));
          await runner.batch({ path: pods[1] }, ['link set dev nsm-1 up']);
          if (shellIdleMs > 300) assert.equal(await shellOf(), first, 'the same shell ran both');
          else assert.notEqual(await shellOf(), first, 'the idle shell had exited');
        } finally {
          await runner.close();
        }
      }
    });

    it("runs JSON queries from shells, not from Node's event loop, and parses their output", async () => {
      const fakeIp = join(dir, 'fake-json-ip');
      // Prints which process started it, as JSON; fails for "fail".
      await writeFile(
        fakeIp,
        `#!/bin/sh\n[ "$2" = fail ] && { echo 'Error: no such object' >&2; exit 1; }\necho '[{"parent":'$PPID'}]'\n`,
      );
      await chmod(fakeIp, 0o755);
      const runner = newIpRunner({ netlink: false, ipBinary: fakeIp });
      try {
        const [out] = await runner.json<{ parent: number }[]>(null, ['link']);
        assert.notEqual(out.parent, process.pid);
        await assert.rejects(
          runner.json(null, ['fail']),
          (e: unknown) => isKernelCommandError(e) && /no such object/.test(e.message),
        );
      } finally {
        await runner.close();
      }
    });

    it('reports a missing binary as INTERNAL', async () => {
      const runner = newIpRunner({ netlink: false, ipBinary: join(dir, 'no-such-ip') });
      await assert.rejects(
        runner.batch(null, ['link show']),
        (e: unknown) => isKernelCommandError(e) && e.code === status.INTERNAL,
      );
    });
  });
});
