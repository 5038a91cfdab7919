// Every binary rejects a bad configuration with one line naming the variable, and exit code 2.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { SCRIPTS } from '../../sdk/tools/sandbox/sandbox.js';

const CASES: { binary: string; script: string; env: Record<string, string>; variable: string }[] = [
  {
    binary: 'nsmgr',
    script: SCRIPTS.nsmgr,
    env: { NSM_MAX_TOKEN_LIFETIME: 'soon' },
    variable: 'NSM_MAX_TOKEN_LIFETIME',
  },
  {
    binary: 'nsmgr',
    script: SCRIPTS.nsmgr,
    env: { NSM_REGISTRY_URL: 'ftp://x' },
    variable: 'NSM_REGISTRY_URL',
  },
  { binary: 'forwarder', script: SCRIPTS.forwarder, env: {}, variable: 'NSM_TUNNEL_IP' },
  {
    binary: 'forwarder',
    script: SCRIPTS.forwarder,
    env: { NSM_TUNNEL_IP: '10.0.0.300' },
    variable: 'NSM_TUNNEL_IP',
  },
  {
    binary: 'forwarder',
    script: SCRIPTS.forwarder,
    env: { NSM_TUNNEL_IP: '10.0.0.1', NSM_VXLAN_PORT: '70000' },
    variable: 'NSM_VXLAN_PORT',
  },
  { binary: 'nodeagent', script: SCRIPTS.nodeagent, env: {}, variable: 'NSM_TUNNEL_IP' },
  {
    binary: 'nodeagent',
    script: SCRIPTS.nodeagent,
    env: { NSM_TUNNEL_IP: '10.0.0.1', NSM_INSECURE: 'true', NSM_LISTEN_ON: 'tcp://127.0.0.1:0' },
    variable: 'NSM_LISTEN_ON',
  },
  { binary: 'icmp-responder', script: SCRIPTS.icmpResponder, env: {}, variable: 'NSM_SERVICE_NAMES' },
  {
    binary: 'icmp-responder',
    script: SCRIPTS.icmpResponder,
    env: { NSM_SERVICE_NAMES: 'a', NSM_CIDR_PREFIX: '10.0.0.0/33' },
    variable: 'NSM_CIDR_PREFIX',
  },
  { binary: 'nsc', script: SCRIPTS.nsc, env: {}, variable: 'NSM_NETWORK_SERVICES' },
  ...['[kernel://a/nsm-1', '[a/nsm-1]', '[kernel://a/nsm-1],[kernel://a/nsm-1]'].map((groups) => ({
    binary: 'nsc',
    script: SCRIPTS.nsc,
    env: { NSM_NETWORK_SERVICES: 'kernel://a/nsm-1', NSM_AWARENESS_GROUPS: groups },
    variable: 'NSM_AWARENESS_GROUPS',
  })),
  {
    // Plaintext on the network without saying so: refused at start, still one line and exit 2.
    binary: 'nsmgr',
    script: SCRIPTS.nsmgr,
    env: { NSM_LISTEN_ON: 'tcp://0.0.0.0:0', NSM_PUBLIC_URL: 'tcp://10.0.0.1:5001' },
    variable: 'NSM_INSECURE',
  },
  {
    binary: 'registry',
    script: SCRIPTS.registry,
    env: { NSM_CERT_FILE: '/etc/hostname' },
    variable: 'NSM_KEY_FILE',
  },
  {
    binary: 'forwarder',
    script: SCRIPTS.forwarder,
    env: {
      NSM_TUNNEL_IP: '10.0.0.1',
      NSM_CERT_FILE: '/etc/hostname',
      NSM_KEY_FILE: '/nonexistent.key',
      NSM_BUNDLE_FILE: '/etc/hostname',
    },
    variable: 'NSM_KEY_FILE',
  },
  {
    binary: 'registry',
    script: SCRIPTS.registry,
    env: { NSM_EXPIRE_PERIOD: 'abc' },
    variable: 'NSM_EXPIRE_PERIOD',
  },
];

function run(script: string, env: Record<string, string>) {
  return spawnSync(process.execPath, [script], {
    env: { PATH: process.env.PATH, ...env },
    encoding: 'utf8',
    timeout: 10_000,
  });
}

describe('configuration errors', () => {
  for (const c of CASES) {
    it(`${c.binary} names ${c.variable} and exits 2 for ${JSON.stringify(c.env)}`, () => {
      const r = run(c.script, c.env);
      assert.equal(r.status, 2, `exit code; stderr: ${r.stderr}`);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, `one line: ${r.stderr}`);
      assert.match(lines[0], new RegExp(`^${c.binary}: ${c.variable}: `));
    });
  }

  it('nsc rejects an NSURL with an interface name over 15 characters', () => {
    const r = run(SCRIPTS.nsc, { NSM_NETWORK_SERVICES: 'kernel://svc/this-name-is-too-long' });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /this-name-is-too-long/);
  });
});
