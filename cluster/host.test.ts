import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseChains, removeCreatedPaths } from './host.js';

describe('cluster host', () => {
  it('reads built-in and user chains from iptables -S', () => {
    const rules = [
      '-P INPUT ACCEPT',
      '-P OUTPUT ACCEPT',
      '-N KUBE-FIREWALL',
      '-N OTHER',
      '-A INPUT -j KUBE-FIREWALL',
      '-A KUBE-FIREWALL -j DROP',
    ].join('\n');
    assert.deepEqual(parseChains(rules), ['INPUT', 'OUTPUT', 'KUBE-FIREWALL', 'OTHER']);
  });
});

describe('cluster host paths', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nsm-host-test-'));
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('removes a created path holding only empty directories and links into the cluster dir', () => {
    const created = path.join(tmp, 'run-containerd');
    fs.mkdirSync(path.join(created, 's'), { recursive: true });
    fs.mkdirSync(path.join(created, 'fifo'));
    fs.symlinkSync(path.join(tmp, 'cluster', 'pod.log'), path.join(created, 'pod.log'));
    removeCreatedPaths([created], path.join(tmp, 'cluster'));
    assert.equal(fs.existsSync(created), false);
  });

  it('keeps a created path where another program left a file or a foreign link', () => {
    const created = path.join(tmp, 'logs');
    fs.mkdirSync(path.join(created, 'a'), { recursive: true });
    fs.mkdirSync(path.join(created, 'b'));
    fs.writeFileSync(path.join(created, 'a', 'theirs'), 'x');
    fs.symlinkSync('/elsewhere/x.log', path.join(created, 'b', 'x.log'));
    removeCreatedPaths([created], path.join(tmp, 'cluster'));
    assert.ok(fs.existsSync(path.join(created, 'a', 'theirs')));
    assert.ok(fs.lstatSync(path.join(created, 'b', 'x.log')).isSymbolicLink());
  });
});
