// Metrics and tracing for a binary, from its validated config (the fields of observabilitySchema),
// set up by runDaemon beside logging and closed after the daemon: the last spans of a shutdown are
// still exported, and the metrics endpoint answers until the daemon is gone.
import type { Closable } from './daemon.js';
import { logger } from './log.js';
import { serveMetrics } from './metrics/index.js';
import { setupTracing } from './tracing/setup.js';

export interface ObservabilityConfig {
  metricsListenOn?: string;
  otelEndpoint?: string;
}

export async function setupObservability(
  binary: string,
  config: ObservabilityConfig,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Closable> {
  const log = logger(binary);
  const open: Closable[] = [];
  const close = async () => {
    for (const c of open.reverse()) await c.close();
  };
  try {
    if (config.metricsListenOn) {
      const metrics = await serveMetrics(config.metricsListenOn);
      open.push(metrics);
      // not "… serving": the sandbox takes a "<binary> serving" line as "ready"
      log.info({ url: metrics.url }, 'serving metrics');
    }
    const tracing = await setupTracing({ serviceName: binary, endpoint: config.otelEndpoint, env });
    if (tracing) {
      open.push(tracing);
      log.info({ endpoint: config.otelEndpoint ?? env.OTEL_EXPORTER_OTLP_ENDPOINT }, 'exporting traces');
    }
  } catch (e) {
    await close();
    throw e;
  }
  return { close };
}
