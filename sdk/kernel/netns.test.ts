import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { rm, symlink, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { status } from '@grpc/grpc-js';
import { isNsmError } from '../errors/index.js';
import { netnsInodeURL, newNetnsResolver, ownNetnsInodeURL } from './netns.js';
import { isRoot, TestNamespaces, type TestNetns, waitForLine } from './testing.js';

const run = promisify(execFile);
/** One resolver for the file, as a daemon has one (its cache is shared between lookups). */
const resolver = newNetnsResolver();
const resolveNetns = (url: string) => resolver.resolve(url);

function code(c: status, pattern?: RegExp) {
  return (e: unknown) => {
    assert.ok(isNsmError(e), `not an NsmError: ${e}`);
    assert.equal(e.code, c, `${status[e.code]}: ${e.message}`);
    if (pattern) assert.match(e.message, pattern);
    return true;
  };
}

describe('netns resolution', function () {
  this.timeout(20_000);
  const spaces = new TestNamespaces();
  const junk: string[] = [];
  const mounts: string[] = [];
  let ns: TestNetns;
  let sleeperPid: number;

  before(async function () {
    if (!isRoot()) this.skip();
    ns = await spaces.add('res');
    const sleeper = spaces.spawnIn(ns, ['sh', '-c', 'echo up; exec sleep 30']);
    await waitForLine(sleeper, /up/);
    sleeperPid = sleeper.pid as number;
  });

  after(async () => {
    for (const m of mounts) await run('umount', [m]).catch(() => undefined);
    for (const f of junk) await rm(f, { force: true });
    await spaces.cleanup();
  });

  const tag = () => randomBytes(4).toString('hex');

  describe('accepts', () => {
    it('a named namespace', async () => {
      const r = await resolveNetns(`file://${ns.path}`);
      assert.deepEqual(r, { path: ns.path, inode: netnsInodeURL(ns.path) });
    });

    it('the /run/netns spelling, answering with the /var/run/netns one', async () => {
      const r = await resolveNetns(`file:///run/netns/${ns.name}`);
      assert.equal(r.path, ns.path);
    });

    it('a process namespace, with the same identity as its name', async () => {
      const path = `/proc/${sleeperPid}/ns/net`;
      const r = await resolveNetns(`file://${path}`);
      assert.deepEqual(r, { path, inode: netnsInodeURL(ns.path) });
    });

    it('inode://, preferring the namespace name over its processes', async () => {
      const inode = netnsInodeURL(ns.path);
      assert.match(inode, /^inode:\/\/\d+\/\d+$/);
      assert.deepEqual(await resolveNetns(inode), { path: ns.path, inode });
    });

    it('our own namespace by inode', async () => {
      const own = ownNetnsInodeURL();
      const r = await resolveNetns(own);
      assert.equal(netnsInodeURL(r.path), own);
    });

    it('inode:// of an unnamed namespace through a process, and stops finding it once the process is gone', async () => {
      const resolver = newNetnsResolver();
      const lone = await spaces.add('lone');
      const proc = spaces.spawnIn(lone, ['sh', '-c', 'echo up; exec sleep 30']);
      await waitForLine(proc, /up/);
      const inode = netnsInodeURL(lone.path);
      await run('ip', ['netns', 'del', lone.name]); // now only the process holds it
      const r = await resolver.resolve(inode);
      assert.equal(r.path, `/proc/${proc.pid}/ns/net`);
      assert.deepEqual(await resolver.resolve(inode), r, 'answered again (from the cache)');
      proc.kill('SIGKILL');
      await new Promise((resolve) => proc.once('exit', resolve));
      await assert.rejects(resolver.resolve(inode), code(status.NOT_FOUND));
    });
  });

  describe('rejects', () => {
    const invalid: [string, string, RegExp?][] = [
      ['an empty URL', '', /must not be empty/],
      ['another scheme', 'http://example.com/ns', /scheme/],
      ['a relative path', 'netns/foo', /scheme/],
      ['.. out of the netns directory', 'file:///var/run/netns/../../etc/passwd', /path must be/],
      ['percent-encoded ..', 'file:///var/run/netns/%2e%2e/%2e%2e/etc/passwd', /path must be/],
      ['an encoded slash', 'file:///var/run/netns/a%2Fb', /malformed/],
      ['a URL host', 'file://evil/var/run/netns/x', /malformed/],
      ['an arbitrary file', 'file:///etc/passwd', /path must be/],
      ['a mount namespace', 'file:///proc/1/ns/mnt', /path must be/],
      ['a thread namespace path', 'file:///proc/1/task/1/ns/net', /path must be/],
      ['/proc/self', 'file:///proc/self/ns/net', /inode:/],
      ['a nested path', 'file:///var/run/netns/a/b', /single path component/],
      ['a malformed inode URL', 'inode://abc/1', /inode:\/\/<dev>\/<ino>/],
      ['an inode URL with extra parts', 'inode://4/1/2', /inode:\/\/<dev>\/<ino>/],
    ];
    for (const [name, url, pattern] of invalid) {
      it(`${name} as INVALID_ARGUMENT`, () =>
        assert.rejects(resolveNetns(url), code(status.INVALID_ARGUMENT, pattern)));
    }

    it('a regular file in the netns directory', async () => {
      const f = `/var/run/netns/nsmk-file-${tag()}`;
      junk.push(f);
      await writeFile(f, '');
      await assert.rejects(
        resolveNetns(`file://${f}`),
        code(status.INVALID_ARGUMENT, /not a network namespace/),
      );
    });

    it('a symlink that leaves the netns directory', async () => {
      const f = `/var/run/netns/nsmk-link-${tag()}`;
      junk.push(f);
      await symlink('/etc/passwd', f);
      await assert.rejects(resolveNetns(`file://${f}`), code(status.INVALID_ARGUMENT, /outside/));
    });

    it('a symlink to another namespace in the directory is followed', async () => {
      const f = `/var/run/netns/nsmk-alias-${tag()}`;
      junk.push(f);
      await symlink(ns.path, f);
      assert.equal((await resolveNetns(`file://${f}`)).path, ns.path);
    });

    it('a namespace of another type mounted in the netns directory', async () => {
      const f = `/var/run/netns/nsmk-uts-${tag()}`;
      junk.push(f);
      await writeFile(f, '');
      await run('mount', ['--bind', '/proc/self/ns/uts', f]);
      mounts.push(f);
      await assert.rejects(resolveNetns(`file://${f}`), code(status.INVALID_ARGUMENT, /uts namespace/));
      // and an inode:// naming it is not answered with it either
      await assert.rejects(resolveNetns(netnsInodeURL(f)), code(status.NOT_FOUND));
    });
  });

  describe('not found', () => {
    it('a named namespace that does not exist', () =>
      assert.rejects(resolveNetns(`file:///var/run/netns/nsmk-none-${tag()}`), code(status.NOT_FOUND)));
    it('a process that does not exist', () =>
      assert.rejects(resolveNetns('file:///proc/999999999/ns/net'), code(status.NOT_FOUND)));
    it('an inode no namespace has', () => {
      const dev = statSync('/proc/self/ns/net').dev;
      return assert.rejects(
        resolveNetns(`inode://${dev}/1`),
        code(status.NOT_FOUND, /no named netns or process/),
      );
    });
    it('a device that is not nsfs', () => {
      const dev = statSync('/').dev;
      return assert.rejects(resolveNetns(`inode://${dev}/2`), code(status.NOT_FOUND, /not nsfs/));
    });
  });

  describe('list', () => {
    it('lists its own namespace first and every namespace once, named ones by their name', async () => {
      const all = await resolver.list();
      assert.deepEqual(all[0], { path: '/proc/self/ns/net', own: true });
      assert.equal(all.filter((n) => n.own).length, 1);
      assert.ok(
        all.some((n) => n.path === ns.path && !n.own),
        `${ns.path} in ${JSON.stringify(all)}`,
      );
      assert.ok(
        !all.some((n) => n.path === `/proc/${sleeperPid}/ns/net`),
        'a process in a named namespace adds nothing',
      );
      const ids = all.map((n) => netnsInodeURL(n.path));
      assert.equal(new Set(ids).size, ids.length, 'no namespace twice');
    });
  });
});
