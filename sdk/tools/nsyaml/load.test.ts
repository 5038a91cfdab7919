import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadNetworkServices, parseNetworkServices } from './index.js';

const CHAIN = `# the nse-composition example's shape
apiVersion: networkservicemesh.io/v1
kind: NetworkService
metadata:
  name: secure
spec:
  payload: IP
  matches:
    - source_selector:
        app: firewall
      routes:
        - destination_selector:
            app: passthrough-1
          weight: 2
    - source_selector: {app: passthrough-1}
      fallthrough: true
      routes:
        - destination_selector: {nodeName: "{{.nodeName}}", app: gateway}
      metadata:
        labels: {fast: "true"}
    - routes:
        - destination_selector: {app: firewall}
---
spec:
  name: plain
`;

describe('nsyaml', () => {
  it('reads NetworkService resources and bare specs, several per file', () => {
    const [secure, plain] = parseNetworkServices(CHAIN, 'chain.yaml');
    assert.equal(secure.name, 'secure');
    assert.equal(secure.payload, 'IP');
    assert.deepEqual(secure.matches[0], {
      sourceSelector: { app: 'firewall' },
      routes: [{ destinationSelector: { app: 'passthrough-1' }, weight: 2 }],
      fallthrough: false,
      metadata: undefined,
    });
    assert.equal(secure.matches[1].fallthrough, true);
    assert.deepEqual(secure.matches[1].routes[0].destinationSelector, {
      nodeName: '{{.nodeName}}',
      app: 'gateway',
    });
    assert.deepEqual(secure.matches[1].metadata, { labels: { fast: 'true' } });
    assert.deepEqual(secure.matches[2].sourceSelector, {});
    assert.equal(plain.name, 'plain');
    assert.deepEqual(plain.matches, []);
  });

  const bad: { name: string; text: string; want: RegExp }[] = [
    {
      name: 'a misspelt field, by file, line and field path',
      text: 'spec:\n  name: x\n  matches:\n    - routes:\n        - destination_selectr: {a: b}\n',
      want: /^f\.yaml:5:11: spec\.matches\[0\]\.routes\[0\]\.destination_selectr: unknown field/,
    },
    {
      name: 'a negative weight',
      text: 'spec:\n  name: x\n  matches:\n    - routes:\n        - weight: -1\n',
      want: /^f\.yaml:5:19: spec\.matches\[0\]\.routes\[0\]\.weight: must be a non-negative integer/,
    },
    {
      name: 'an unquoted number as a label value',
      text: 'spec:\n  name: x\n  matches:\n    - source_selector: {port: 80}\n',
      want: /^f\.yaml:4:31: spec\.matches\[0\]\.source_selector\.port: must be a string/,
    },
    {
      name: 'a payload that does not exist',
      text: 'spec:\n  name: x\n  payload: L7\n',
      want: /^f\.yaml:3:12: spec\.payload: must be one of ETHERNET, IP/,
    },
    {
      name: 'fallthrough that is not a boolean',
      text: 'spec:\n  name: x\n  matches:\n    - fallthrough: "yes"\n',
      want: /^f\.yaml:4:20: spec\.matches\[0\]\.fallthrough: must be true or false/,
    },
    {
      name: 'another kind',
      text: 'apiVersion: networkservicemesh.io/v1\nkind: NetworkServiceEndpoint\nspec: {}\n',
      want: /^f\.yaml:2:7: kind: must be NetworkService/,
    },
    { name: 'a missing name', text: 'spec:\n  payload: IP\n', want: /^f\.yaml:2:3: spec\.name: is required/ },
    { name: 'broken YAML', text: 'spec:\n  name: [x\n', want: /^f\.yaml:\d+:\d+: not valid YAML/ },
    {
      name: 'a service defined twice',
      text: 'spec: {name: x}\n---\nspec: {name: x}\n',
      want: /network service "x" is defined twice/,
    },
  ];
  for (const c of bad) {
    it(`refuses ${c.name}`, () => {
      assert.throws(
        () => parseNetworkServices(c.text, 'f.yaml'),
        (e: Error & { code?: number }) => {
          assert.equal(e.code, 3, e.message);
          assert.match(e.message, c.want);
          return true;
        },
      );
    });
  }

  it('reads a file, and names a file it cannot read', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nsyaml-'));
    try {
      writeFileSync(join(dir, 'ns.yaml'), CHAIN);
      assert.equal((await loadNetworkServices(join(dir, 'ns.yaml'))).length, 2);
      await assert.rejects(loadNetworkServices(join(dir, 'gone.yaml')), /failed to read .*gone\.yaml/);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});
