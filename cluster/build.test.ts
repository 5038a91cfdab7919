import * as assert from 'node:assert/strict';
import { versionLdflags, wrapperGoMod } from './build.js';

const KUBERNETES_GO_MOD = `module k8s.io/kubernetes

go 1.25.0

godebug default=go1.25

require (
	github.com/kylelemons/godebug v1.1.0 // indirect
	k8s.io/api v0.0.0
)

replace (
	k8s.io/api => ./staging/src/k8s.io/api
	k8s.io/client-go => ./staging/src/k8s.io/client-go
	github.com/example/fork => github.com/example/fork v1.2.3
)
`;

describe('cluster build', () => {
  it('maps every staging module of k8s.io/kubernetes to its published v0 twin', () => {
    const mod = wrapperGoMod(KUBERNETES_GO_MOD, 'v1.35.4');
    assert.match(mod, /^go 1\.25\.0$/m);
    assert.match(mod, /^godebug default=go1\.25$/m);
    assert.match(mod, /^require k8s\.io\/kubernetes v1\.35\.4$/m);
    assert.match(mod, /^\tk8s\.io\/api => k8s\.io\/api v0\.35\.4$/m);
    assert.match(mod, /^\tk8s\.io\/client-go => k8s\.io\/client-go v0\.35\.4$/m);
    assert.doesNotMatch(mod, /example\/fork/);
  });

  it('refuses a go.mod without staging modules instead of building v0.0.0 dependencies', () => {
    assert.throws(() => wrapperGoMod('module x\n\ngo 1.25\n', 'v1.35.4'), /staging modules/);
  });

  it('stamps the release into component-base and client-go', () => {
    const flags = versionLdflags('v1.35.4');
    for (const pkg of ['k8s.io/component-base/version', 'k8s.io/client-go/pkg/version']) {
      assert.ok(flags.includes(`-X ${pkg}.gitVersion=v1.35.4`), flags);
      assert.ok(flags.includes(`-X ${pkg}.gitMinor=35`), flags);
    }
  });
});
