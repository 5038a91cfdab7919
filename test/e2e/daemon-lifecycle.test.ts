// Every binary's life through runDaemon, checked on real processes: a bad log level is a config error
// (one line, exit 2), and a daemon whose stderr reader went away or stopped reading still stops
// promptly on SIGTERM (it used to retry EPIPE every 100 ms for minutes).
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SCRIPTS } from '../../sdk/tools/sandbox/sandbox.js';

/** Enough for each binary to get past its required variables to NSM_LOG_LEVEL. */
const BINARIES: { binary: string; script: string; env: Record<string, string> }[] = [
  { binary: 'registry', script: SCRIPTS.registry, env: {} },
  { binary: 'nsmgr', script: SCRIPTS.nsmgr, env: {} },
  { binary: 'forwarder', script: SCRIPTS.forwarder, env: { NSM_TUNNEL_IP: '10.0.0.1' } },
  { binary: 'icmp-responder', script: SCRIPTS.icmpResponder, env: { NSM_SERVICE_NAMES: 'a' } },
  { binary: 'nsc', script: SCRIPTS.nsc, env: { NSM_NETWORK_SERVICES: 'kernel://a/nsm-1' } },
];

const STOP_BUDGET_MS = 5_000;

/** Resolves with the exit code and the time from `since`. */
function exited(p: ChildProcess, since: () => number): Promise<{ code: number | null; ms: number }> {
  return new Promise((resolve) => p.once('exit', (code) => resolve({ code, ms: Date.now() - since() })));
}

describe('daemon life cycle', () => {
  for (const b of BINARIES) {
    it(`${b.binary} rejects NSM_LOG_LEVEL=verbose with one line and exit code 2`, () => {
      const r = spawnSync(process.execPath, [b.script], {
        env: { PATH: process.env.PATH, ...b.env, NSM_LOG_LEVEL: 'verbose' },
        encoding: 'utf8',
        timeout: 10_000,
      });
      assert.equal(r.status, 2, `exit code; stderr: ${r.stderr}`);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, `one line: ${r.stderr}`);
      assert.match(lines[0], new RegExp(`^${b.binary}: NSM_LOG_LEVEL: must be one of .*"verbose"`));
    });
  }

  describe('a daemon whose stderr', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'nsm-lifecycle-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    /** The registry at trace level, stderr piped to us. */
    function registry(): ChildProcess {
      return spawn(process.execPath, [SCRIPTS.registry], {
        env: {
          PATH: process.env.PATH,
          NSM_LISTEN_ON: `unix://${join(dir, 'registry.sock')}`,
          NSM_LOG_LEVEL: 'trace',
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
    }

    /** A daemon run by runDaemon that logs 100 lines of 200 bytes every 10 ms: it fills a pipe in a second. */
    function chatty(): ChildProcess {
      const daemon = new URL('../../sdk/tools/daemon.js', import.meta.url).href;
      const log = new URL('../../sdk/tools/log.js', import.meta.url).href;
      const script = `
        import { runDaemon } from ${JSON.stringify(daemon)};
        import { logger } from ${JSON.stringify(log)};
        const log = logger('chatty');
        await runDaemon('chatty', {}, async () => {
          const t = setInterval(() => { for (let i = 0; i < 100; i++) log.info({ i, pad: 'x'.repeat(200) }, 'chatter'); }, 10);
          return { close: async () => { clearInterval(t); log.info('closed'); } };
        });`;
      return spawn(process.execPath, ['--input-type=module', '-e', script], {
        env: { PATH: process.env.PATH },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
    }

    /** Waits for the first log line (the daemon is up), applies `cut` to the pipe, waits `settleMs`, SIGTERM. */
    async function stopAfter(
      p: ChildProcess,
      cut: (p: ChildProcess) => void,
      settleMs: number,
    ): Promise<{ code: number | null; ms: number }> {
      let killedAt = 0;
      const done = exited(p, () => killedAt);
      try {
        await new Promise<void>((resolve, reject) => {
          p.stderr!.once('data', () => resolve());
          p.once('exit', (code) => reject(new Error(`exited early with ${code}`)));
        });
        cut(p);
        await new Promise((r) => setTimeout(r, settleMs));
        killedAt = Date.now();
        p.kill('SIGTERM');
        const timer = setTimeout(() => p.kill('SIGKILL'), STOP_BUDGET_MS);
        const r = await done;
        clearTimeout(timer);
        return r;
      } finally {
        if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
      }
    }

    it('was closed still exits 0 promptly on SIGTERM (registry)', async () => {
      const r = await stopAfter(registry(), (p) => p.stderr!.destroy(), 100);
      assert.equal(r.code, 0, 'exit code (null: it had to be killed)');
      assert.ok(r.ms < STOP_BUDGET_MS, `stopped in ${r.ms} ms`);
    });

    it('was closed while it kept logging still exits 0 promptly on SIGTERM', async () => {
      const r = await stopAfter(chatty(), (p) => p.stderr!.destroy(), 500);
      assert.equal(r.code, 0, 'exit code (null: it had to be killed)');
      assert.ok(r.ms < STOP_BUDGET_MS, `stopped in ${r.ms} ms`);
    });

    it('is full because nobody reads it still exits 0 promptly on SIGTERM', async () => {
      const r = await stopAfter(chatty(), (p) => p.stderr!.pause(), 1_500);
      assert.equal(r.code, 0, 'exit code (null: it had to be killed)');
      assert.ok(r.ms < STOP_BUDGET_MS, `stopped in ${r.ms} ms`);
    });
  });
});
