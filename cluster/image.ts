// Images for the cluster, built from host files since nothing can be pulled: the pause image (our static
// pause program) and the project image (node + its libraries, iproute2's ip, /bin/sh, dist/ and the
// production node_modules). deploy/Dockerfile builds the equivalent conventionally for users' registries.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MALLOC_TUNABLES } from '../sdk/tools/heap/index.js';
import { binPath } from './build.js';
import { ctr } from './clients.js';
import { IMAGE_DIR, PAUSE_IMAGE, PROJECT_IMAGE } from './config.js';
import { log, run, which } from './exec.js';
import { checkImageName, parseLdd, writeOciImage } from './oci.js';
import { readState } from './state.js';

/** A skeleton that mirrors the host's merged-/usr layout (bin, sbin, lib, lib64 as symlinks into usr). */
function baseRootfs(r: string): void {
  fs.chmodSync(r, 0o755);
  for (const d of ['etc', 'tmp', 'root', 'usr/bin', 'usr/lib', 'var/tmp', 'proc', 'sys', 'dev']) {
    fs.mkdirSync(path.join(r, d), { recursive: true });
  }
  fs.chmodSync(path.join(r, 'tmp'), 0o1777);
  fs.chmodSync(path.join(r, 'var/tmp'), 0o1777);
  for (const d of ['bin', 'sbin', 'lib', 'lib64']) {
    const host = `/${d}`;
    if (!fs.existsSync(host)) continue;
    const st = fs.lstatSync(host);
    if (st.isSymbolicLink() && !fs.readlinkSync(host).startsWith('/')) {
      const target = fs.readlinkSync(host);
      fs.mkdirSync(path.join(r, target), { recursive: true });
      fs.symlinkSync(target, path.join(r, d));
    } else {
      fs.mkdirSync(path.join(r, d), { recursive: true });
    }
  }
  fs.writeFileSync(
    path.join(r, 'etc/passwd'),
    'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n',
  );
  fs.writeFileSync(path.join(r, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
  fs.writeFileSync(path.join(r, 'etc/nsswitch.conf'), 'hosts: files dns\n');
}

function copyInto(r: string, src: string, dst = src): void {
  fs.mkdirSync(path.join(r, path.dirname(dst)), { recursive: true });
  fs.cpSync(src, path.join(r, dst), { dereference: true, recursive: true });
}

/** Copies host programs with the shared libraries ldd lists, at their host paths. */
async function addBinaries(r: string, programs: string[]): Promise<void> {
  for (const p of programs) {
    const file = p.startsWith('/') ? p : await which(p);
    if (!file) throw new Error(`failed to build the image: ${p} not found on the host`);
    copyInto(r, file);
    const ldd = await run('ldd', [file], { allowFail: true });
    for (const lib of parseLdd(ldd.stdout)) if (!fs.existsSync(path.join(r, lib))) copyInto(r, lib);
  }
}

export async function ensurePauseImage(): Promise<string> {
  const out = path.join(IMAGE_DIR, 'pause.tar');
  if (fs.existsSync(out)) return out;
  const r = fs.mkdtempSync(path.join(os.tmpdir(), 'nsm-pause-'));
  try {
    fs.copyFileSync(binPath('pause'), path.join(r, 'pause'));
    fs.chmodSync(path.join(r, 'pause'), 0o755);
    await writeOciImage({ name: PAUSE_IMAGE, rootfs: r, out, entrypoint: ['/pause'] });
  } finally {
    fs.rmSync(r, { recursive: true, force: true });
  }
  return out;
}

/** Top-level production packages (`npm ls --omit=dev`), each copied whole with what it nests. */
async function productionPackages(repo: string): Promise<string[]> {
  const r = await run('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: repo, allowFail: true });
  const top = path.join(repo, 'node_modules');
  return r.stdout
    .split('\n')
    .filter((p) => p.startsWith(`${top}/`))
    .map((p) => path.relative(top, p))
    .filter((rel) => !rel.includes('node_modules'));
}

export interface ProjectImageOptions {
  repo: string;
  name?: string;
  out?: string;
}

export async function buildProjectImage(o: ProjectImageOptions): Promise<{ name: string; out: string }> {
  const name = o.name ?? PROJECT_IMAGE;
  checkImageName(name);
  const out = o.out ?? path.join(IMAGE_DIR, `${name.replace(/[^\w.-]+/g, '_')}.tar`);
  const dist = path.join(o.repo, 'dist');
  if (!fs.existsSync(path.join(dist, 'nsmgr')))
    throw new Error(`failed to build the image: ${dist} missing (npm run build)`);
  const t0 = Date.now();
  const r = fs.mkdtempSync(path.join(os.tmpdir(), 'nsm-image-'));
  try {
    baseRootfs(r);
    // nsenter: the forwarder runs `ip` inside other pods' namespaces through it (sdk/kernel); ss
    // (with nsenter): nsmgr and forwarder ask sock_diag who a unix peer is (sdk/tools/unixpeer)
    await addBinaries(r, [process.execPath, 'ip', 'sh', 'nsenter', 'ss']);
    if (process.execPath !== '/usr/bin/node' && !fs.existsSync(path.join(r, 'usr/bin/node'))) {
      fs.symlinkSync(process.execPath, path.join(r, 'usr/bin/node'));
    }
    for (const f of ['/etc/iproute2', '/usr/share/iproute2', '/etc/protocols', '/etc/services']) {
      if (fs.existsSync(f)) copyInto(r, f);
    }
    copyInto(r, dist, '/app/dist');
    copyInto(r, path.join(o.repo, 'package.json'), '/app/package.json');
    for (const pkg of await productionPackages(o.repo)) {
      copyInto(r, path.join(o.repo, 'node_modules', pkg), `/app/node_modules/${pkg}`);
    }
    await writeOciImage({
      name,
      rootfs: r,
      out,
      entrypoint: ['node'],
      workdir: '/app',
      env: [
        'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        'NODE_ENV=production',
        `GLIBC_TUNABLES=${MALLOC_TUNABLES}`, // sdk/tools/heap/malloc.ts
      ],
    });
  } finally {
    fs.rmSync(r, { recursive: true, force: true });
  }
  const mib = (fs.statSync(out).size / 1048576).toFixed(0);
  log(`image ${name}: ${out} (${mib} MiB) in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  return { name, out };
}

/** Imports an image tar into the containerd of the node in nodeDir. */
export async function importImage(nodeDir: string, tar: string): Promise<void> {
  if (!fs.existsSync(tar)) throw new Error(`failed to import ${tar}: no such file`);
  const r = await ctr(nodeDir, ['images', 'import', tar]);
  if (r.code !== 0) throw new Error(`failed to import ${tar} into ${nodeDir}: ${r.stderr.trim()}`);
}

/** Imports an image tar into every node of the cluster in dir. */
export async function loadImage(dir: string, tar: string): Promise<void> {
  const s = readState(dir);
  if (!s) throw new Error(`failed to load ${tar}: no cluster in ${dir}`);
  // in parallel: each import is mostly waiting for the disk
  await Promise.all(s.nodes.map((n) => importImage(n.dir, tar)));
}
