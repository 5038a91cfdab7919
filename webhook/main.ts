// The admission webhook binary: `node dist/webhook/main.js`, configured by NSM_* variables (config.ts),
// run in the cluster as the Deployment in deploy/base/webhook.
import { runDaemon } from '../sdk/tools/daemon.js';
import { webhookSchema } from './config.js';
import { startWebhook } from './server.js';

await runDaemon('webhook', webhookSchema, (config) => startWebhook(config));
