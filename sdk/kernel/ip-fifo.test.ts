import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from '../testing/eventually.js';
import { EXIT_MARK, FifoStarter, fifoJobScript, type IpProcess, sweepFifoDirs } from './ip-fifo.js';
import { ShellLauncher } from './ip-shell.js';

describe('ip-fifo: batch processes a shell starts', () => {
  let dir: string;
  let echoIp: string;
  let anyNsenter: string;
  let failingNsenter: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nsmf-'));
    // Answers every line with "ok LINE" on stdout; a line "fail" fails as iproute2 does.
    echoIp = join(dir, 'echo-ip');
    await writeFile(
      echoIp,
      '#!/bin/sh\nwhile IFS= read -r l; do [ "$l" = fail ] && { echo "Command failed -:1" >&2; exit 1; }; echo "ok $l"; done\n',
    );
    anyNsenter = join(dir, 'any-nsenter');
    await writeFile(anyNsenter, '#!/bin/sh\nshift\nexec "$@"\n');
    failingNsenter = join(dir, 'failing-nsenter');
    await writeFile(
      failingNsenter,
      '#!/bin/sh\necho "nsenter: cannot open $1: No such file or directory" >&2\nexit 1\n',
    );
    for (const f of [echoIp, anyNsenter, failingNsenter]) await chmod(f, 0o755);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const shellOpts = (nsenterBinary: string) => ({
    shellBinary: 'sh',
    ipBinary: echoIp,
    nsenterBinary,
    timeoutMs: 5000,
    shells: 1,
    idleMs: 60_000,
  });

  const lines = (s: NodeJS.ReadableStream) => {
    const got: string[] = [];
    s.setEncoding('utf8');
    s.on('data', (d: string) => got.push(...d.split('\n').filter(Boolean)));
    return got;
  };

  it('writes a job that makes the FIFOs only when asked, quoting every path', () => {
    const paths = { in: "/t/a'1.in", out: '/t/1.out', err: '/t/1.err' };
    const bins = { ipBinary: 'ip', nsenterBinary: 'nsenter' };
    const made = fifoJobScript(paths, '/var/run/netns/p', bins, false);
    assert.equal(
      made,
      `{ { 'nsenter' '--net=/var/run/netns/p' 'ip' '-o' '-batch' '-'; echo "${EXIT_MARK} $?" >&2; } <'/t/a'\\''1.in' >'/t/1.out' 2>'/t/1.err' & echo "pid $!"; }`,
    );
    assert.equal(
      fifoJobScript(paths, '/p', bins, true).startsWith(
        "mkfifo -m 600 '/t/a'\\''1.in' '/t/1.out' '/t/1.err' && {",
      ),
      true,
    );
  });

  it('starts a process that reads its stdin FIFO and answers on stdout; its FIFOs go once it answered; kill ends it', async () => {
    const shells = new ShellLauncher(shellOpts(anyNsenter));
    const starter = new FifoStarter(shells, { ipBinary: echoIp, nsenterBinary: anyNsenter });
    let p: IpProcess | undefined;
    try {
      const others = new Set(await readdir(tmpdir()));
      p = await starter.start('/proc/self/ns/net');
      assert.ok(p, 'started');
      const [mine] = (await readdir(tmpdir())).filter((d) => d.startsWith('nsm-ip-') && !others.has(d));
      assert.deepEqual((await readdir(join(tmpdir(), mine))).filter((f) => f.startsWith('1.')).sort(), [
        '1.err',
        '1.in',
        '1.out',
      ]);
      const out = lines(p.stdout);
      p.stdin.write('link set dev a up\n');
      await eventually(() => assert.deepEqual(out, ['ok link set dev a up']));
      await eventually(async () => {
        const left = (await readdir(join(tmpdir(), mine))).filter((f) => f.startsWith('1.'));
        assert.deepEqual(left, [], 'the first process’s FIFOs are unlinked once it answered');
      });
      const exited = new Promise<string>((r) => p!.onExit(r));
      p.kill();
      assert.equal(await exited, 'ip stopped');
    } finally {
      p?.kill();
      shells.close();
      starter.close();
    }
  });

  it('reports the exit code when ip exits, and nsenter’s error when the namespace cannot be entered', async () => {
    const shells = new ShellLauncher(shellOpts(anyNsenter));
    const starter = new FifoStarter(shells, { ipBinary: echoIp, nsenterBinary: anyNsenter });
    const badShells = new ShellLauncher(shellOpts(failingNsenter));
    const bad = new FifoStarter(badShells, { ipBinary: echoIp, nsenterBinary: failingNsenter });
    try {
      const p = await starter.start('/proc/self/ns/net');
      assert.ok(p);
      const err = lines(p.stderr);
      const exited = new Promise<string>((r) => p.onExit(r));
      p.stdin.write('fail\n');
      assert.equal(await exited, 'ip exited (code 1)');
      assert.ok(err.includes('Command failed -:1'), err.join('|'));

      const q = await bad.start('/var/run/netns/gone');
      assert.ok(q, 'the shell started it; entering the namespace is what fails');
      const qerr = lines(q.stderr);
      assert.equal(await new Promise<string>((r) => q.onExit(r)), 'ip exited (code 1)');
      assert.ok(
        qerr.some((l) => l.includes('cannot open --net=/var/run/netns/gone')),
        qerr.join('|'),
      );
    } finally {
      for (const s of [shells, badShells]) s.close();
      for (const s of [starter, bad]) s.close();
    }
  });

  it('sweeps the directories of processes that are gone, and keeps those of live ones', async () => {
    const tmp = await mkdtemp(join(dir, 'sweep-'));
    const gone = spawnSync('true').pid!; // exited and reaped
    for (const d of [`nsm-ip-${gone}-abc`, `nsm-ip-${process.pid}-def`, 'nsm-ip-x', 'other']) {
      await mkdir(join(tmp, d));
      await writeFile(join(tmp, d, '1.in'), '');
    }
    sweepFifoDirs(tmp);
    assert.deepEqual((await readdir(tmp)).sort(), [`nsm-ip-${process.pid}-def`, 'nsm-ip-x', 'other']);
  });

  it('removes its directory on close, and starts nothing for a path with a newline', async () => {
    const shells = new ShellLauncher(shellOpts(anyNsenter));
    const starter = new FifoStarter(shells, { ipBinary: echoIp, nsenterBinary: anyNsenter });
    const before = new Set((await readdir(tmpdir())).filter((d) => d.startsWith('nsm-ip-')));
    const p = await starter.start('/proc/self/ns/net');
    const mine = (await readdir(tmpdir())).filter((d) => d.startsWith('nsm-ip-') && !before.has(d));
    assert.equal(mine.length, 1, 'one directory of ours');
    assert.equal(await starter.start('/x\n/y'), undefined);
    p?.kill();
    shells.close();
    starter.close();
    assert.deepEqual(
      (await readdir(tmpdir())).filter((d) => mine.includes(d)),
      [],
      'the directory is gone',
    );
  });
});
