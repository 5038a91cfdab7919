// Writing an OCI image layout tar (one uncompressed layer) from a root filesystem directory, without any
// registry or image tool: a reproducible layer tar, a config, a manifest and an index naming the image so
// that `ctr images import` tags it.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { run } from './exec.js';

export interface OciImageOptions {
  /** Fully qualified, with a tag: `nsm-ts.local/nsm:dev`. */
  name: string;
  rootfs: string;
  out: string;
  entrypoint?: string[];
  cmd?: string[];
  env?: string[];
  workdir?: string;
}

export function ociArch(arch = process.arch): string {
  return arch === 'x64' ? 'amd64' : arch;
}

/** Rejects names containerd would treat as docker.io/library/... (nothing can be pulled from there). */
export function checkImageName(name: string): void {
  const [host] = name.split('/');
  if (!name.includes('/') || !/[.:]/.test(host) || !/:[\w][\w.-]*$/.test(name.slice(name.lastIndexOf('/')))) {
    throw new Error(
      `image name must be fully qualified with a registry host and a tag (nsm-ts.local/x:dev): ${name}`,
    );
  }
}

async function putBlob(layout: string, file: string): Promise<{ digest: string; size: number }> {
  const hash = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  const digest = `sha256:${hash.digest('hex')}`;
  const size = fs.statSync(file).size;
  fs.renameSync(file, path.join(layout, 'blobs', 'sha256', digest.slice(7)));
  return { digest, size };
}

function writeJson(file: string, value: unknown): void {
  fs.writeFileSync(file, JSON.stringify(value));
}

export async function writeOciImage(o: OciImageOptions): Promise<void> {
  checkImageName(o.name);
  const layout = fs.mkdtempSync(path.join(os.tmpdir(), 'nsm-oci-'));
  try {
    fs.mkdirSync(path.join(layout, 'blobs', 'sha256'), { recursive: true });
    const layerFile = path.join(layout, 'layer');
    // sorted, owned by root, mtime 0: the same files give the same digest
    await run('tar', [
      '--sort=name',
      '--owner=0',
      '--group=0',
      '--numeric-owner',
      '--mtime=@0',
      '-C',
      o.rootfs,
      '-cf',
      layerFile,
      '.',
    ]);
    const layer = await putBlob(layout, layerFile);
    const configFile = path.join(layout, 'config');
    writeJson(configFile, {
      architecture: ociArch(),
      os: 'linux',
      config: {
        Entrypoint: o.entrypoint ?? [],
        Cmd: o.cmd ?? [],
        Env: o.env ?? ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
        WorkingDir: o.workdir ?? '/',
      },
      rootfs: { type: 'layers', diff_ids: [layer.digest] },
      history: [{ created_by: 'nsm-cluster image' }],
    });
    const config = await putBlob(layout, configFile);
    const manifestFile = path.join(layout, 'manifest');
    writeJson(manifestFile, {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }],
    });
    const manifest = await putBlob(layout, manifestFile);
    writeJson(path.join(layout, 'index.json'), {
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          ...manifest,
          annotations: {
            'io.containerd.image.name': o.name,
            'org.opencontainers.image.ref.name': o.name.slice(o.name.lastIndexOf(':') + 1),
          },
        },
      ],
    });
    writeJson(path.join(layout, 'oci-layout'), { imageLayoutVersion: '1.0.0' });
    fs.mkdirSync(path.dirname(o.out), { recursive: true });
    await run('tar', [
      '--sort=name',
      '--mtime=@0',
      '--owner=0',
      '--group=0',
      '--numeric-owner',
      '-C',
      layout,
      '-cf',
      `${o.out}.tmp`,
      'oci-layout',
      'index.json',
      'blobs',
    ]);
    fs.renameSync(`${o.out}.tmp`, o.out);
  } finally {
    fs.rmSync(layout, { recursive: true, force: true });
  }
}

/** Absolute library paths in `ldd` output ("libc.so.6 => /lib/.../libc.so.6 (0x..)", "/lib64/ld-linux..."). */
export function parseLdd(out: string): string[] {
  return [...out.matchAll(/(?:=>\s*|^\s*)(\/\S+)\s+\(0x/gm)].map((m) => m[1]);
}
