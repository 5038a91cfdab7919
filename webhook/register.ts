// Self-registration: the webhook creates (or replaces) its MutatingWebhookConfiguration with the CA of
// this run as caBundle, so `kubectl apply -k deploy/...` needs no certificate step. The configuration
// is left in place on shutdown: a restarting webhook replaces it, and deleting it on every rollout would
// let pods through uninjected in between.
import type * as k8s from '@kubernetes/client-node';
import type { WebhookConfig } from './config.js';

export const WEBHOOK_PATH = '/mutate';

export type RegisterConfig = Pick<
  WebhookConfig,
  | 'name'
  | 'serviceName'
  | 'namespace'
  | 'servicePort'
  | 'failurePolicy'
  | 'timeoutSeconds'
  | 'excludedNamespaces'
>;

/** The configuration object (pure, for tests and for `kubectl get -o yaml` readers). */
export function webhookConfiguration(
  config: RegisterConfig,
  caPem: string,
): k8s.V1MutatingWebhookConfiguration {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: config.name, labels: { 'app.kubernetes.io/part-of': 'nsm' } },
    webhooks: [
      {
        // must be a qualified name with at least three segments
        name: `${config.serviceName}.${config.namespace}.networkservicemesh.io`,
        clientConfig: {
          service: {
            name: config.serviceName,
            namespace: config.namespace,
            path: WEBHOOK_PATH,
            port: config.servicePort,
          },
          caBundle: Buffer.from(caPem).toString('base64'),
        },
        rules: [
          {
            operations: ['CREATE', 'UPDATE'],
            apiGroups: [''],
            apiVersions: ['v1'],
            resources: ['pods'],
            scope: 'Namespaced',
          },
        ],
        // the apiserver does not even call us for these (and we skip them ourselves too)
        namespaceSelector: {
          matchExpressions: [
            { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: config.excludedNamespaces },
          ],
        },
        failurePolicy: config.failurePolicy,
        sideEffects: 'None',
        admissionReviewVersions: ['v1'],
        timeoutSeconds: config.timeoutSeconds,
        reinvocationPolicy: 'Never',
      },
    ],
  };
}

/** Creates the configuration, or replaces the existing one of the same name. */
export async function registerWebhook(
  api: k8s.AdmissionregistrationV1Api,
  body: k8s.V1MutatingWebhookConfiguration,
): Promise<void> {
  const name = body.metadata?.name ?? '';
  try {
    const existing = await api.readMutatingWebhookConfiguration({ name });
    await api.replaceMutatingWebhookConfiguration({
      name,
      body: { ...body, metadata: { ...body.metadata, resourceVersion: existing.metadata?.resourceVersion } },
    });
  } catch (e) {
    if ((e as { code?: number }).code !== 404) throw e;
    await api.createMutatingWebhookConfiguration({ body });
  }
}
