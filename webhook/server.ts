// The admission webhook daemon: HTTPS with a certificate it makes itself, `POST /mutate` answering the
// apiserver's AdmissionReviews (mutate.ts decides), `GET /healthz` for the kubelet's probes, a cache of
// namespaces (their annotation applies to their pods), and self-registration of the
// MutatingWebhookConfiguration (register.ts).
//
// An admission answer must be fast (the target is p99 ≤ 50 ms, the apiserver waits NSM_TIMEOUT_SECONDS
// at most): the handler reads namespaces from the informer's cache and only asks the apiserver for a
// namespace the cache does not have yet (created a moment ago).
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as k8s from '@kubernetes/client-node';
import { getErrorMessage } from '../sdk/errors/index.js';
import { parseNsmUrl } from '../sdk/tools/config/index.js';
import { closeOnce, disposable } from '../sdk/tools/daemon.js';
import { logger } from '../sdk/tools/log.js';
import { makeServingCerts, serviceDnsNames } from './certs.js';
import type { WebhookConfig } from './config.js';
import { type AdmissionRequest, mutate } from './mutate.js';
import { registerWebhook, WEBHOOK_PATH, webhookConfiguration } from './register.js';

/** AdmissionReviews are small; anything bigger than this is not one. */
const MAX_BODY_BYTES = 4 << 20;
/** Delay before the namespace informer starts again after its watch failed. */
const INFORMER_RESTART_MS = 1_000;

export interface Webhook {
  /** The port it serves on (for tests with port 0). */
  readonly port: number;
  readonly caPem: string;
  close(): Promise<void>;
}

export interface WebhookDeps {
  /** Defaults to the in-cluster config, else KUBECONFIG / ~/.kube/config. */
  kubeConfig?: k8s.KubeConfig;
}

export async function startWebhook(config: WebhookConfig, deps: WebhookDeps = {}): Promise<Webhook> {
  const log = logger('webhook');
  const listen = parseNsmUrl(config.listenOn, { listen: true });
  if (!listen.ok || listen.url.scheme !== 'tcp')
    throw new Error(`NSM_LISTEN_ON must be tcp://host:port, got ${config.listenOn}`);
  const { host, port: listenPort } = listen.url;
  const kc = deps.kubeConfig ?? defaultKubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const certs = await makeServingCerts(serviceDnsNames(config.serviceName, config.namespace));

  const namespaces = k8s.makeInformer(kc, '/api/v1/namespaces', () => core.listNamespace());
  let closed = false;
  let restart: NodeJS.Timeout | undefined;
  namespaces.on('error', (e) => {
    if (closed) return;
    log.warn({ err: e }, 'namespace watch failed: starting it again');
    restart = setTimeout(() => void namespaces.start().catch(() => {}), INFORMER_RESTART_MS);
  });
  await namespaces.start();

  async function namespaceAnnotations(name: string): Promise<Record<string, string> | undefined> {
    const cached = namespaces.get(name);
    if (cached) return cached.metadata?.annotations;
    try {
      return (await core.readNamespace({ name })).metadata?.annotations;
    } catch (e) {
      log.warn({ err: e, namespace: name }, 'failed to read namespace: its annotation is not applied');
      return undefined;
    }
  }

  async function review(body: unknown): Promise<unknown> {
    const request = (body as { request?: AdmissionRequest }).request;
    if (!request?.uid) throw new Error('not an AdmissionReview: request.uid is missing');
    const ns = request.namespace ?? request.object?.metadata?.namespace;
    const result = mutate({
      request,
      namespaceAnnotations: ns ? await namespaceAnnotations(ns) : undefined,
      config,
    });
    const pod = `${ns}/${request.object?.metadata?.name ?? request.object?.metadata?.generateName ?? '?'}`;
    if (!result.response.allowed) log.info({ pod, message: result.response.status?.message }, 'denied');
    else if (result.patch) log.info({ pod, op: request.operation }, 'injected the client');
    return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: result.response };
  }

  const server = https.createServer({ cert: certs.certPem, key: certs.keyPem }, (req, res) => {
    const reply = (code: number, body: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'GET' && req.url === '/healthz') return reply(200, { ok: true });
    if (req.method !== 'POST' || req.url?.split('?')[0] !== WEBHOOK_PATH)
      return reply(404, { error: 'not found' });
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) req.destroy(new Error('body too large'));
      else chunks.push(c);
    });
    req.on('end', () => {
      const started = performance.now();
      Promise.resolve()
        .then(() => review(JSON.parse(Buffer.concat(chunks).toString('utf8'))))
        .then(
          (answer) => {
            reply(200, answer);
            log.debug({ ms: performance.now() - started }, 'admission review answered');
          },
          (e: unknown) => reply(400, { error: `failed to review: ${getErrorMessage(e)}` }),
        );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenPort, host || undefined, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  log.info({ port }, 'serving admission reviews');

  if (config.register) {
    const api = kc.makeApiClient(k8s.AdmissionregistrationV1Api);
    await registerWebhook(api, webhookConfiguration(config, certs.caPem));
    log.info(
      { name: config.name, failurePolicy: config.failurePolicy },
      'registered the MutatingWebhookConfiguration',
    );
  }

  return disposable({
    port,
    caPem: certs.caPem,
    close: closeOnce(async () => {
      closed = true;
      clearTimeout(restart);
      await namespaces.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }),
  });
}

function defaultKubeConfig(): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromDefault();
  return kc;
}
