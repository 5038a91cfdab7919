// The shells that start one-shot `ip` runs, against a fake `ip` (no root): the job framing, exit
// codes and output, order within a namespace, quoting, cancel, timeout and idle exit.
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { jobScript, ShellLauncher, shellQuote } from './ip-shell.js';
import { isKernelCommandError } from './kernel-command-error.js';

// Logs "<netns> <args> | <stdin lines>" to $dir/log; "fail" on stdin fails like iproute2, "hang" hangs,
// "json" as an argument prints a JSON line.
const FAKE_IP = `#!/bin/sh
d=$(dirname "$0")
in=$(cat | tr '\\n' ';')
echo "\${NETNS:-own} $* | $in" >> "$d/log"
case "$in" in *fail*) echo "RTNETLINK answers: File exists" >&2; echo "Command failed -:1" >&2; exit 1;; esac
case "$in" in *hang*) exec sleep 30;; esac
case "$*" in *json*) echo '[{"ifname":"lo"}]';; esac
echo "to stdout"
exit 0
`;
// nsenter --net=PATH cmd...: exports the path so the fake ip can log it.
const FAKE_NSENTER = `#!/bin/sh
NETNS=\${1#--net=}; export NETNS; shift
exec "$@"
`;

describe('ip shells', () => {
  let dir: string;
  let shells: ShellLauncher;
  const make = (o: { timeoutMs?: number; idleMs?: number; shells?: number } = {}) =>
    new ShellLauncher({
      shellBinary: 'sh',
      ipBinary: join(dir, 'ip'),
      nsenterBinary: join(dir, 'nsenter'),
      timeoutMs: o.timeoutMs ?? 10_000,
      idleMs: o.idleMs ?? 10_000,
      shells: o.shells ?? 2,
    });
  const log = async () =>
    (await readFile(join(dir, 'log'), 'utf8').catch(() => '')).split('\n').filter(Boolean);

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nsm-ipshell-'));
    await writeFile(join(dir, 'ip'), FAKE_IP);
    await writeFile(join(dir, 'nsenter'), FAKE_NSENTER);
    await chmod(join(dir, 'ip'), 0o755);
    await chmod(join(dir, 'nsenter'), 0o755);
    shells = make();
  });

  afterEach(async () => {
    shells.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('quotes every word so that nothing is expanded', () => {
    assert.equal(shellQuote(`a'b $X`), `'a'\\''b $X'`);
    const script = jobScript(
      { netns: '/var/run/netns/x', ipArgs: ['-batch', '-'], lines: ['link set dev $HOME up'], what: '' },
      'D',
      { ipBinary: 'ip', nsenterBinary: 'nsenter' },
    );
    assert.equal(
      script,
      `'nsenter' '--net=/var/run/netns/x' 'ip' '-batch' '-' 2>&1 >/dev/null <<'D'\nlink set dev $HOME up\nD\nprintf '\\nD %s\\n' $?\n`,
    );
  });

  it('refuses a batch line that would end the here-document', () => {
    assert.throws(
      () =>
        jobScript({ netns: null, ipArgs: [], lines: ['D'], what: '' }, 'D', {
          ipBinary: 'ip',
          nsenterBinary: 'n',
        }),
      /invalid ip batch line/,
    );
  });

  it('runs a batch in its namespace and returns only stderr and the exit code', async () => {
    const ok = await shells.run({
      netns: '/ns/a',
      ipArgs: ['-batch', '-'],
      lines: ['link add x', 'link set x up'],
      what: 'w',
    });
    assert.deepEqual(ok, { code: 0, output: '' });
    const bad = await shells.run({ netns: null, ipArgs: ['-batch', '-'], lines: ['fail'], what: 'w' });
    assert.equal(bad.code, 1);
    assert.equal(bad.output, 'RTNETLINK answers: File exists\nCommand failed -:1\n');
    assert.deepEqual(await log(), ['/ns/a -batch - | link add x;link set x up;', 'own -batch - | fail;']);
  });

  it('returns the output of a query', async () => {
    const r = await shells.run({ netns: '/ns/a', ipArgs: ['-json', 'link'], lines: null, what: 'w' });
    assert.deepEqual(r, { code: 0, output: '[{"ifname":"lo"}]\nto stdout\n' });
  });

  it("keeps one namespace's jobs in order, many at once", async () => {
    const jobs = Array.from({ length: 60 }, (_, i) =>
      shells.run({ netns: `/ns/${i % 3}`, ipArgs: ['-batch', '-'], lines: [`line ${i}`], what: 'w' }),
    );
    assert.ok((await Promise.all(jobs)).every((r) => r.code === 0));
    const lines = await log();
    assert.equal(lines.length, 60);
    for (const ns of ['0', '1', '2']) {
      const order = lines
        .filter((l) => l.startsWith(`/ns/${ns} `))
        .map((l) => Number(/line (\d+)/.exec(l)![1]));
      assert.deepEqual(
        order,
        [...order].sort((a, b) => a - b),
      );
    }
  });

  it('kills a job that hangs, and the jobs queued behind it run in a new shell', async () => {
    shells.close();
    shells = make({ timeoutMs: 300, shells: 1 });
    const hung = shells.run({ netns: null, ipArgs: ['-batch', '-'], lines: ['hang'], what: 'hang' });
    const behind = shells.run({ netns: null, ipArgs: ['-batch', '-'], lines: ['after'], what: 'w' });
    await assert.rejects(
      hung,
      (e: unknown) => isKernelCommandError(e) && e.code === status.DEADLINE_EXCEEDED,
    );
    assert.equal((await behind).code, 0);
  });

  it('cancels a queued job without running it, and a running one by killing its shell', async () => {
    shells.close();
    shells = make({ shells: 1 });
    const ac = new AbortController();
    const running = shells.run({
      netns: null,
      ipArgs: ['-batch', '-'],
      lines: ['hang'],
      what: 'w',
      signal: ac.signal,
    });
    const queued = new AbortController();
    const dropped = shells.run({
      netns: null,
      ipArgs: ['-batch', '-'],
      lines: ['dropped'],
      what: 'w',
      signal: queued.signal,
    });
    queued.abort();
    await assert.rejects(dropped, (e: unknown) => isKernelCommandError(e) && e.code === status.CANCELLED);
    setTimeout(() => ac.abort(), 100);
    await assert.rejects(running, (e: unknown) => isKernelCommandError(e) && e.code === status.CANCELLED);
    assert.equal(
      (await shells.run({ netns: null, ipArgs: ['-batch', '-'], lines: ['next'], what: 'w' })).code,
      0,
    );
    assert.ok(!(await log()).some((l) => l.includes('dropped')));
  });

  it('a shell without work exits, and the next job starts another', async () => {
    shells.close();
    shells = make({ idleMs: 50, shells: 1 });
    assert.equal(
      (await shells.run({ netns: null, ipArgs: ['-batch', '-'], lines: ['one'], what: 'w' })).code,
      0,
    );
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(
      (await shells.run({ netns: null, ipArgs: ['-batch', '-'], lines: ['two'], what: 'w' })).code,
      0,
    );
  });
});
