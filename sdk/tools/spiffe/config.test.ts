import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newCA } from './ca.js';
import { openIdentity, resolveGroup } from './config.js';

describe('identity config', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'nsm-identity-config-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const partial = [
    { set: { certFile: '/a.crt' }, missing: 'NSM_KEY_FILE', why: /required when NSM_CERT_FILE is set/ },
    {
      set: { certFile: '/a.crt', keyFile: '/a.key' },
      missing: 'NSM_BUNDLE_FILE',
      why: /when NSM_CERT_FILE and NSM_KEY_FILE are set/,
    },
    { set: { bundleFile: '/b.pem' }, missing: 'NSM_CERT_FILE', why: /when NSM_BUNDLE_FILE is set/ },
  ];
  for (const c of partial) {
    it(`names ${c.missing} when only ${Object.keys(c.set).join(' and ')} are set`, async () => {
      await assert.rejects(openIdentity({ insecure: false, ...c.set }), (e: Error & { env?: string }) => {
        assert.equal(e.env, c.missing);
        assert.match(e.message, c.why);
        return true;
      });
    });
  }

  it('opens the files as an mTLS identity, and refuses them together with NSM_INSECURE', async () => {
    const ca = await newCA('example.org');
    const f = await ca.writeSvid(dir, 'nsmgr', 'spiffe://example.org/nsmgr');
    const id = await openIdentity({ insecure: false, ...f });
    try {
      assert.equal(id.source?.svid().spiffeId.id, 'spiffe://example.org/nsmgr');
      assert.ok(id.security.credentials);
    } finally {
      await id.close();
    }
    await assert.rejects(openIdentity({ insecure: true, ...f }), /NSM_INSECURE: cannot be true/);
  });

  it('blames the variable of the file at fault', async () => {
    const ca = await newCA('example.org');
    const f = await ca.writeSvid(dir, 'nsmgr', 'spiffe://example.org/nsmgr');
    writeFileSync(f.bundleFile, 'not pem');
    await assert.rejects(
      openIdentity({ insecure: false, ...f }),
      (e: Error & { env?: string }) => e.env === 'NSM_BUNDLE_FILE',
    );
  });

  it('without files: no credentials; insecure only when asked', async () => {
    assert.deepEqual((await openIdentity({ insecure: false })).security, {
      insecure: false,
      socketGroup: undefined,
    });
    assert.equal((await openIdentity({ insecure: true })).security.insecure, true);
  });

  it('resolves a socket group by name or gid, and names NSM_SOCKET_GROUP for an unknown one', () => {
    const groups = join(dir, 'group');
    writeFileSync(groups, 'root:x:0:\nnsm:x:1234:alice\n');
    assert.equal(resolveGroup('nsm', groups), 1234);
    assert.equal(resolveGroup('77', groups), 77);
    assert.throws(() => resolveGroup('nobody-here', groups), /NSM_SOCKET_GROUP: no such group/);
  });
});
