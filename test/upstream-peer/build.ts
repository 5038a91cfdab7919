// Builds nsm-upstream-peer (main.go and hold.go beside this file) with Go, for the tests that run it.
// Needs Go (CI has it): without `go` on PATH the tests fail rather than skip.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The Go sources stay in the source tree: dist/test/upstream-peer -> test/upstream-peer.
const SRC = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test', 'upstream-peer');
export const BUILD_TIMEOUT_MS = 5 * 60_000; // a fresh machine downloads the modules first

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export function exec(
  cmd: string,
  args: string[],
  opts: { cwd?: string; timeout?: number } = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { ...opts, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string }) | null;
      if (e && typeof e.code === 'string') {
        reject(e); // could not start (ENOENT...)
        return;
      }
      resolve({ code: e ? Number(e.code ?? 1) : 0, stdout, stderr });
    });
  });
}

export interface PeerBinary {
  bin: string;
  remove(): void;
}

/** Builds the peer into a fresh temporary directory; `remove()` deletes it. */
export async function buildPeer(): Promise<PeerBinary> {
  // `go` from PATH, else the standard install location (a shell without Go's profile line).
  const go = (await exec('go', ['version']).then(
    () => true,
    () => false,
  ))
    ? 'go'
    : '/usr/local/go/bin/go';
  const version = await exec(go, ['version']).catch((e: NodeJS.ErrnoException) => {
    throw new Error(
      `Go is not installed (\`go version\`: ${e.code ?? e.message}). This test builds a peer from ` +
        `upstream NSM's Go code and needs Go >= 1.26 (go.mod) on PATH; CI has it.`,
    );
  });
  assert.equal(version.code, 0, `go version failed: ${version.stderr}`);
  const binDir = mkdtempSync(join(tmpdir(), 'nsm-upstream-peer-'));
  const bin = join(binDir, 'nsm-upstream-peer');
  const build = await exec(go, ['build', '-buildvcs=false', '-o', bin, '.'], {
    cwd: SRC,
    timeout: BUILD_TIMEOUT_MS,
  });
  if (build.code !== 0) rmSync(binDir, { recursive: true, force: true });
  assert.equal(build.code, 0, `go build in ${SRC} failed:\n${build.stderr}`);
  return { bin, remove: () => rmSync(binDir, { recursive: true, force: true }) };
}
