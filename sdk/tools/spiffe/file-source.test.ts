import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, never } from '../../testing/eventually.js';
import { type CA, newCA } from './ca.js';
import { loadSvidFiles, openFileSource, type SvidFiles } from './file-source.js';

describe('identity from files', () => {
  let dir: string;
  let ca: CA;
  let other: CA;

  before(async () => {
    ca = await newCA('example.org');
    other = await newCA('example.org');
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'nsm-spiffe-test-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('loads an SVID, its key and the bundle', async () => {
    const files = await ca.writeSvid(dir, 'nsmgr', 'spiffe://example.org/nsmgr');
    const { svid, bundlePem } = await loadSvidFiles(files);
    assert.equal(svid.spiffeId.id, 'spiffe://example.org/nsmgr');
    assert.equal(bundlePem, ca.bundlePem);
    assert.ok(svid.notAfterMs > Date.now());
  });

  const refusals: { name: string; make: (f: SvidFiles) => Promise<void>; want: RegExp }[] = [
    {
      name: 'a key that is not the certificate’s',
      make: async (f) => writeFileSync(f.keyFile, (await ca.issue('spiffe://example.org/x')).keyPem),
      want: /key file .*nsmgr\.key: the key does not match the certificate/,
    },
    {
      name: 'a certificate from a CA outside the bundle',
      make: async (f) => {
        const s = await other.issue('spiffe://example.org/nsmgr');
        writeFileSync(f.certFile, s.certPem);
        writeFileSync(f.keyFile, s.keyPem);
      },
      want: /not issued by a CA of the bundle/,
    },
    {
      name: 'an expired certificate',
      make: async (f) => {
        const s = await ca.issue('spiffe://example.org/nsmgr', {
          now: Date.now() - 3_600_000,
          ttlMs: 60_000,
        });
        writeFileSync(f.certFile, s.certPem);
        writeFileSync(f.keyFile, s.keyPem);
      },
      want: /nsmgr\.crt: expired at/,
    },
    {
      name: 'a file that is not PEM',
      make: async (f) => writeFileSync(f.certFile, 'hello'),
      want: /certificate file .*nsmgr\.crt: no PEM certificate in it/,
    },
    {
      name: 'a missing bundle',
      make: async (f) => rmSync(f.bundleFile),
      want: /bundle file .*bundle\.pem: ENOENT/,
    },
  ];
  for (const c of refusals) {
    it(`refuses ${c.name}, naming the file`, async () => {
      const files = await ca.writeSvid(dir, 'nsmgr', 'spiffe://example.org/nsmgr');
      await c.make(files);
      await assert.rejects(loadSvidFiles(files), c.want);
      await assert.rejects(openFileSource(files), c.want);
    });
  }

  it('follows a rotation, and keeps the old SVID while the new files are half-written', async () => {
    const files = await ca.writeSvid(dir, 'nsmgr', 'spiffe://example.org/nsmgr');
    const src = await openFileSource({ ...files, pollIntervalMs: 20 });
    try {
      let updates = 0;
      src.onUpdate(() => updates++);
      const first = src.svid();
      // Half-written: the new key is there, its certificate is not yet.
      const next = await ca.issue('spiffe://example.org/nsmgr-v2');
      writeFileSync(files.keyFile, next.keyPem);
      await never(() => updates > 0, 150);
      assert.equal(src.svid(), first, 'the old set stays in use');
      writeFileSync(files.certFile, next.certPem);
      await eventually(() => assert.equal(updates, 1));
      assert.equal(src.svid().spiffeId.id, 'spiffe://example.org/nsmgr-v2');
    } finally {
      await src.close();
    }
    assert.throws(() => src.svid(), /closed/);
  });
});
