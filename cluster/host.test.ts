import * as assert from 'node:assert/strict';
import { parseChains } from './host.js';

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
