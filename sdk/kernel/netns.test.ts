// URLs that netns resolution refuses before it looks at the file system (no root needed).
import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { isNsmError } from '../errors/index.js';
import { newNetnsResolver } from './netns.js';

const resolveNetns = (url: string) => newNetnsResolver().resolve(url);

function code(c: status, pattern?: RegExp) {
  return (e: unknown) => {
    assert.ok(isNsmError(e), `not an NsmError: ${e}`);
    assert.equal(e.code, c, `${status[e.code]}: ${e.message}`);
    if (pattern) assert.match(e.message, pattern);
    return true;
  };
}

describe('netns resolution', () => {
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
  });
});
