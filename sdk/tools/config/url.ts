// The URL forms NSM components use to reach each other: `unix:///abs/path`, `tcp://host:port` and a
// bare `host:port` (upstream writes `registry:5002`). Parsing returns a result, not an exception, so
// config loading and registry validation can word their own errors.
import { isIP } from 'node:net';

export type NsmUrl =
  | { readonly scheme: 'unix'; readonly path: string }
  | { readonly scheme: 'tcp'; readonly host: string; readonly port: number };

export type UrlResult =
  | { readonly ok: true; readonly url: NsmUrl }
  | { readonly ok: false; readonly problem: string };

export interface ParseUrlOptions {
  /** A listen address: the host may be empty (all interfaces) and the port may be 0 (any free port). */
  listen?: boolean;
}

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*\.?$/;
const FORMS = 'use unix:///path, tcp://host:port or host:port';

export function parseNsmUrl(raw: string, opts: ParseUrlOptions = {}): UrlResult {
  if (raw.startsWith('unix://')) {
    const path = raw.slice('unix://'.length);
    if (!path.startsWith('/'))
      return { ok: false, problem: 'unix URL needs an absolute path (unix:///path)' };
    if (path.length === 1) return { ok: false, problem: 'unix URL has an empty path' };
    return { ok: true, url: { scheme: 'unix', path } };
  }
  let rest = raw;
  if (raw.startsWith('tcp://')) rest = raw.slice('tcp://'.length);
  else if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(raw)) {
    return { ok: false, problem: `unsupported URL scheme "${raw.slice(0, raw.indexOf(':'))}" (${FORMS})` };
  }
  const colon = rest.lastIndexOf(':');
  if (colon < 0) return { ok: false, problem: `missing port (${FORMS})` };
  let host = rest.slice(0, colon);
  const portText = rest.slice(colon + 1);
  if (host.startsWith('[') && host.endsWith(']')) {
    host = host.slice(1, -1);
    if (isIP(host) !== 6) return { ok: false, problem: `"${host}" is not an IPv6 address` };
  } else if (host !== '' && isIP(host) === 0 && !HOSTNAME.test(host)) {
    return { ok: false, problem: `"${host}" is not a valid host name or IP address (${FORMS})` };
  }
  if (host === '' && !opts.listen) return { ok: false, problem: `missing host (${FORMS})` };
  if (!/^\d{1,5}$/.test(portText)) return { ok: false, problem: `"${portText}" is not a port number` };
  const port = Number(portText);
  if (port > 65535 || (port === 0 && !opts.listen))
    return { ok: false, problem: `port ${port} is out of range` };
  return { ok: true, url: { scheme: 'tcp', host, port } };
}

/** The canonical string form: `unix:///path` or `tcp://host:port` (IPv6 hosts in brackets). */
export function formatNsmUrl(url: NsmUrl): string {
  if (url.scheme === 'unix') return `unix://${url.path}`;
  return `tcp://${isIP(url.host) === 6 ? `[${url.host}]` : url.host}:${url.port}`;
}
