import * as assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { loadConfig } from '../sdk/tools/config/index.js';
import { makeServingCerts, serviceDnsNames } from './certs.js';
import { webhookSchema } from './config.js';
import { webhookConfiguration } from './register.js';

describe('webhook registration and certificates', () => {
  it('signs a serving certificate for the Service names with a CA of its own', async () => {
    const certs = await makeServingCerts(serviceDnsNames('admission-webhook', 'nsm-system'));
    const ca = new X509Certificate(certs.caPem);
    const leaf = new X509Certificate(certs.certPem);
    assert.ok(ca.ca);
    assert.ok(leaf.verify(ca.publicKey), 'serving certificate is not signed by the CA');
    assert.ok(leaf.checkHost('admission-webhook.nsm-system.svc'));
    assert.equal(leaf.checkHost('other.nsm-system.svc'), undefined);
    assert.match(certs.keyPem, /^-----BEGIN PRIVATE KEY-----/);
  });

  it('registers pods CREATE and UPDATE through the Service, with the CA and the configured failure policy', () => {
    const config = loadConfig(webhookSchema, { NSM_FAILURE_POLICY: 'ignore', NSM_NAMESPACE: 'nsm' });
    const mwc = webhookConfiguration(config, 'PEM');
    const w = mwc.webhooks?.[0];
    assert.equal(mwc.metadata?.name, 'nsm-admission-webhook');
    assert.equal(w?.failurePolicy, 'Ignore');
    assert.deepEqual(w?.clientConfig.service, {
      name: 'admission-webhook',
      namespace: 'nsm',
      path: '/mutate',
      port: 443,
    });
    assert.equal(Buffer.from(w?.clientConfig.caBundle ?? '', 'base64').toString(), 'PEM');
    assert.deepEqual(w?.rules?.[0].operations, ['CREATE', 'UPDATE']);
    assert.deepEqual(w?.namespaceSelector?.matchExpressions?.[0].values, config.excludedNamespaces);
  });

  it('refuses a failure policy it does not know', () => {
    assert.throws(
      () => loadConfig(webhookSchema, { NSM_FAILURE_POLICY: 'Maybe' }),
      /NSM_FAILURE_POLICY.*Fail, Ignore/,
    );
    assert.throws(
      () => loadConfig(webhookSchema, { NSM_SIDECAR_LIMITS_MEMORY: '80 MB' }),
      /NSM_SIDECAR_LIMITS_MEMORY/,
    );
  });
});
