import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkImageName, parseLdd, writeOciImage } from './oci.js';

describe('cluster oci', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nsm-oci-test-'));
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('finds the libraries and the loader in ldd output', () => {
    const out = [
      '\tlinux-vdso.so.1 (0x00007ffd5a7f2000)',
      '\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f1c2a000000)',
      '\t/lib64/ld-linux-x86-64.so.2 (0x00007f1c2a400000)',
    ].join('\n');
    assert.deepEqual(parseLdd(out), ['/lib/x86_64-linux-gnu/libc.so.6', '/lib64/ld-linux-x86-64.so.2']);
  });

  for (const name of ['nsm:dev', 'library/nsm:dev', 'nsm-ts.local/nsm']) {
    it(`refuses the image name ${name} that containerd would look up on docker.io or untagged`, () => {
      assert.throws(() => checkImageName(name), /fully qualified/);
    });
  }

  it('writes a reproducible OCI layout whose index names the image and whose blobs match their digests', async () => {
    const rootfs = path.join(tmp, 'rootfs');
    fs.mkdirSync(path.join(rootfs, 'etc'), { recursive: true });
    fs.writeFileSync(path.join(rootfs, 'etc', 'hello'), 'hi\n');
    const outs = [path.join(tmp, 'a.tar'), path.join(tmp, 'b.tar')];
    for (const out of outs) {
      await writeOciImage({ name: 'nsm-ts.local/t:1', rootfs, out, entrypoint: ['/hello'] });
    }
    assert.deepEqual(fs.readFileSync(outs[0]), fs.readFileSync(outs[1]));
    const x = path.join(tmp, 'x');
    fs.mkdirSync(x);
    execFileSync('tar', ['-xf', outs[0], '-C', x]);
    const index = JSON.parse(fs.readFileSync(path.join(x, 'index.json'), 'utf8'));
    assert.equal(index.manifests[0].annotations['io.containerd.image.name'], 'nsm-ts.local/t:1');
    const blob = (d: string) => fs.readFileSync(path.join(x, 'blobs', 'sha256', d.replace('sha256:', '')));
    const manifest = JSON.parse(blob(index.manifests[0].digest).toString());
    const config = JSON.parse(blob(manifest.config.digest).toString());
    assert.deepEqual(config.config.Entrypoint, ['/hello']);
    assert.equal(config.rootfs.diff_ids[0], manifest.layers[0].digest);
    const files = execFileSync('tar', ['-tf', '-'], { input: blob(manifest.layers[0].digest) }).toString();
    assert.match(files, /^\.\/etc\/hello$/m);
  });
});
