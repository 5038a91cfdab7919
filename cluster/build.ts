// `build`: the Kubernetes binaries, etcd and a pause program, compiled from the Go module proxy into the
// cache once per version (CGO_ENABLED=0, -trimpath, version stamped). k8s.io/kubernetes cannot be
// `go install`ed: it requires its staging modules (k8s.io/api, client-go, ...) at v0.0.0 and maps them to
// ./staging with replace directives, which Go ignores in a dependency. So we generate a wrapper module that
// requires k8s.io/kubernetes and replaces every staging module with its published v0.X.Y twin.
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  BIN_DIR,
  CACHE_DIR,
  ETCD_VERSION,
  GOCACHE,
  GOMODCACHE,
  K8S_BINARIES,
  K8S_VERSION,
} from './config.js';
import { log, run, stream, which } from './exec.js';
import { withLock } from './lock.js';

/** Seconds between progress lines while `go build` compiles quietly. */
const PROGRESS_INTERVAL_MS = 20_000;

export const ALL_BINARIES = [...K8S_BINARIES, 'etcd', 'pause'] as const;

export function binPath(name: (typeof ALL_BINARIES)[number]): string {
  return path.join(BIN_DIR, name);
}

export function missingBinaries(): string[] {
  return ALL_BINARIES.filter((b) => !isExecutable(binPath(b)));
}

function isExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function goEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    GOMODCACHE,
    GOCACHE,
    // read-only module files would make the cache impossible to delete without chmod
    GOFLAGS: '-modcacherw',
    GOTOOLCHAIN: 'local',
    GOWORK: 'off',
    GO111MODULE: 'on',
    CGO_ENABLED: '0',
  };
}

/** Builds what is missing; a no-op (milliseconds) when the cache is warm. */
export async function build(): Promise<void> {
  if (missingBinaries().length === 0) return;
  if (!(await which('go'))) {
    throw new Error('failed to build the Kubernetes binaries: `go` (>= 1.25) is not on PATH');
  }
  fs.mkdirSync(BIN_DIR, { recursive: true });
  await withLock(path.join(CACHE_DIR, 'build.lock'), async () => {
    const t0 = Date.now();
    const k8s = K8S_BINARIES.filter((b) => !isExecutable(binPath(b)));
    if (k8s.length > 0) {
      log(`building ${k8s.join(', ')} ${K8S_VERSION} into ${BIN_DIR}`);
      log('the first build compiles ~2500 packages: 10-25 min on 2 cores, seconds once GOCACHE is warm');
      await buildKubernetes(k8s);
    }
    if (!isExecutable(binPath('etcd'))) await buildEtcd();
    if (!isExecutable(binPath('pause'))) await buildPause();
    log(`build ready in ${((Date.now() - t0) / 1000).toFixed(0)}s: ${BIN_DIR}`);
  });
}

async function goModFile(mod: string): Promise<string> {
  const r = await run('go', ['mod', 'download', '-json', mod], { env: goEnv(), cwd: CACHE_DIR });
  const info = JSON.parse(r.stdout) as { GoMod?: string; Error?: string };
  if (!info.GoMod) throw new Error(`failed to download ${mod}: ${info.Error ?? 'no go.mod reported'}`);
  return fs.readFileSync(info.GoMod, 'utf8');
}

/** The wrapper go.mod for k8s.io/kubernetes@version, derived from that release's own go.mod. */
export function wrapperGoMod(kubernetesGoMod: string, version: string): string {
  const goLine = /^go\s+(\S+)/m.exec(kubernetesGoMod)?.[1] ?? '1.25.0';
  const godebug = /^godebug\s+[^(\n]+$/m.exec(kubernetesGoMod)?.[0];
  const staging = [...kubernetesGoMod.matchAll(/^\s*(\S+)\s+=>\s+\.\/staging\//gm)].map((m) => m[1]);
  if (staging.length === 0)
    throw new Error(`failed to read the staging modules of k8s.io/kubernetes ${version}`);
  const twin = `v0.${version.replace(/^v1\./, '')}`;
  return [
    'module nsm-ts.local/k8s',
    '',
    `go ${goLine}`,
    ...(godebug ? ['', godebug] : []),
    '',
    `require k8s.io/kubernetes ${version}`,
    '',
    'replace (',
    ...staging.map((m) => `\t${m} => ${m} ${twin}`),
    ')',
    '',
  ].join('\n');
}

/** -ldflags that make `kubectl version` and /version report the real release instead of v0.0.0. */
export function versionLdflags(version: string): string {
  const minor = /^v1\.(\d+)/.exec(version)?.[1] ?? '0';
  const flags = ['-s', '-w'];
  for (const pkg of ['k8s.io/component-base/version', 'k8s.io/client-go/pkg/version']) {
    flags.push(
      `-X ${pkg}.gitVersion=${version}`,
      `-X ${pkg}.gitMajor=1`,
      `-X ${pkg}.gitMinor=${minor}`,
      `-X ${pkg}.gitTreeState=clean`,
      `-X ${pkg}.buildDate=1970-01-01T00:00:00Z`,
    );
  }
  return flags.join(' ');
}

async function buildKubernetes(binaries: string[]): Promise<void> {
  const src = path.join(CACHE_DIR, K8S_VERSION, 'src-k8s');
  fs.mkdirSync(src, { recursive: true });
  const want = wrapperGoMod(await goModFile(`k8s.io/kubernetes@${K8S_VERSION}`), K8S_VERSION);
  const initial = path.join(src, 'go.mod.init');
  if (!fs.existsSync(initial) || fs.readFileSync(initial, 'utf8') !== want) {
    fs.writeFileSync(path.join(src, 'go.mod'), want);
    fs.writeFileSync(initial, want);
    fs.rmSync(path.join(src, 'go.sum'), { force: true });
  }
  const pkgs = binaries.map((b) => `k8s.io/kubernetes/cmd/${b}`);
  await goBuild(src, pkgs, versionLdflags(K8S_VERSION), `k8s ${K8S_VERSION}`);
}

async function buildEtcd(): Promise<void> {
  const src = path.join(CACHE_DIR, K8S_VERSION, 'src-etcd');
  fs.mkdirSync(src, { recursive: true });
  if (!fs.existsSync(path.join(src, 'go.mod'))) {
    fs.writeFileSync(path.join(src, 'go.mod'), `module nsm-ts.local/etcd\n\ngo 1.24\n`);
  }
  log(`building etcd ${ETCD_VERSION}`);
  await goBuild(src, [`go.etcd.io/etcd/server/v3@${ETCD_VERSION}`], '-s -w', `etcd ${ETCD_VERSION}`, 'etcd');
}

/** The sandbox holder of every pod: sleeps until SIGTERM/SIGINT and reaps the children it inherits. */
const PAUSE_GO = `package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ch := make(chan os.Signal, 16)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for sig := range ch {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
`;

async function buildPause(): Promise<void> {
  const src = path.join(CACHE_DIR, 'src-pause');
  fs.mkdirSync(src, { recursive: true });
  fs.writeFileSync(path.join(src, 'main.go'), PAUSE_GO);
  fs.writeFileSync(path.join(src, 'go.mod'), 'module nsm-ts.local/pause\n\ngo 1.22\n');
  await run('go', ['build', '-trimpath', '-ldflags', '-s -w', '-o', binPath('pause'), '.'], {
    cwd: src,
    env: goEnv(),
  });
}

/**
 * `go get` the packages into the wrapper module, then `go build -v` them into a partial directory and move
 * them into BIN_DIR only when all succeeded. -v prints each compiled package: we count them for progress.
 */
async function goBuild(
  src: string,
  pkgs: string[],
  ldflags: string,
  what: string,
  out?: string,
): Promise<void> {
  const logFile = fs.createWriteStream(path.join(src, 'build.log'), { flags: 'a' });
  const logLine = (l: string) => logFile.write(`${l}\n`);
  const env = goEnv();
  const getArgs = pkgs.map((p) => (p.includes('@') ? p : `${p}@${K8S_VERSION}`));
  const plain = pkgs.map((p) => p.replace(/@.*$/, ''));
  const t0 = Date.now();
  let last = t0;
  let count = 0;
  const progress = (phase: string) => (line: string) => {
    count++;
    if (Date.now() - last < PROGRESS_INTERVAL_MS) return undefined;
    last = Date.now();
    const secs = ((last - t0) / 1000).toFixed(0);
    return `${what}: ${count} ${phase}, ${secs}s elapsed (latest: ${line.slice(0, 80)})`;
  };
  try {
    log(`${what}: resolving modules (go get)`);
    await stream('nice', ['-n', '10', 'go', 'get', ...getArgs], {
      cwd: src,
      env,
      logLine,
      onLine: progress('lines of go get output'),
    });
    count = 0;
    const partial = path.join(src, 'bin.partial');
    fs.mkdirSync(partial, { recursive: true });
    const target = out ? path.join(partial, out) : `${partial}/`;
    log(`${what}: compiling (progress every ${PROGRESS_INTERVAL_MS / 1000}s)`);
    await stream(
      'nice',
      ['-n', '10', 'go', 'build', '-v', '-trimpath', '-ldflags', ldflags, '-o', target, ...plain],
      { cwd: src, env, logLine, onLine: progress('packages compiled') },
    );
    for (const f of fs.readdirSync(partial)) fs.renameSync(path.join(partial, f), path.join(BIN_DIR, f));
    log(`${what}: built in ${((Date.now() - t0) / 1000).toFixed(0)}s`);
  } finally {
    logFile.end();
  }
}
