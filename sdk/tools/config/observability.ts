// The metrics and tracing fields every binary's schema gets through `loggingSchema` (they are read
// and applied in the same place, runDaemon → sdk/tools/observability.ts). Both are off when unset,
// and then cost nothing: no HTTP server, no OpenTelemetry SDK loaded.
import { type Field, t } from './types.js';

/** A tcp listen address only: Prometheus scrapes over HTTP, so a unix socket is a config error (exit 2). */
function tcpListen(f: Field<string | undefined>): Field<string | undefined> {
  return {
    ...f,
    parse(raw: string) {
      const url = f.parse(raw);
      if (url?.startsWith('unix://')) throw new Error('must be host:port (Prometheus scrapes over tcp)');
      return url;
    },
  };
}

export const observabilitySchema = {
  metricsListenOn: tcpListen(
    t.url({
      env: 'NSM_METRICS_LISTEN_ON',
      description:
        'Serve Prometheus metrics at http://<this>/metrics (host:port, e.g. :9090 or 127.0.0.1:0). Unset: no metrics.',
      listen: true,
    }),
  ),
  otelEndpoint: t.string({
    env: 'NSM_OTEL_EXPORTER_OTLP_ENDPOINT',
    description:
      'Export OpenTelemetry traces over OTLP/HTTP to this collector (e.g. http://collector:4318). Unset: the standard OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT, if set; else no tracing.',
  }),
};
