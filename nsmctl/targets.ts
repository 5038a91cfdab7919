// Which daemons nsmctl talks to. Explicit flags win, then the NSM_* variables a daemon or client on
// this node already has (NSM_CONNECT_TO for the nsmgr, NSM_REGISTRY_URL for the registry), then a
// sandbox mesh started on this machine (`npm start`, the e2e tests): its nsmgr sockets are under
// SANDBOX_ROOT, so `nsmctl get connections` just works there. Without a registry URL the nsmgr's
// registry proxy answers registry questions (every nsmgr serves both registries).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { invalidArgument } from '../sdk/errors/index.js';

export const SANDBOX_ROOT = '/run/nsm-sandbox';
/** Where an nsmgr listens on a real node (the nsmgr's NSM_LISTEN_ON default). */
export const DEFAULT_NSMGR_URL = 'unix:///var/lib/networkservicemesh/nsm.io.sock';

export interface TargetFlags {
  /** --nsmgr: one or more nsmgr URLs, comma separated. */
  nsmgr?: string;
  /** --registry: the registry URL. */
  registry?: string;
  /** --sandbox: the id of a sandbox under SANDBOX_ROOT. */
  sandbox?: string;
}

export interface Targets {
  /** The nsmgrs asked for connections (each holds the connections through its node). */
  nsmgrs: string[];
  /** Where registry Finds go: the registry, or the first nsmgr's registry proxy. */
  registry: string;
  /** Where the targets came from, for `-v` and error messages. */
  source: string;
  /** The sandbox id when the targets were found under SANDBOX_ROOT. */
  sandbox?: string;
}

function normalise(url: string, what: string): string {
  const u = url.trim();
  if (u.startsWith('/')) return `unix://${u}`;
  if (!/^(unix|tcp):\/\/./.test(u)) {
    throw invalidArgument(`${what}: "${u}" is not a URL (use unix:///path/to/socket or tcp://host:port)`);
  }
  return u;
}

function splitURLs(list: string, what: string): string[] {
  return list
    .split(',')
    .filter((s) => s.trim() !== '')
    .map((s) => normalise(s, what));
}

/** The nsmgr sockets of one sandbox, in node order. */
export function sandboxSockets(root: string, id: string): string[] {
  const dir = join(root, id);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => /^node\d+$/.test(n))
    .sort((a, b) => Number(a.slice(4)) - Number(b.slice(4)))
    .map((n) => join(dir, n, 'nsm.io.sock'))
    .filter((s) => existsSync(s));
}

/** The file `npm start` leaves in its sandbox, so nsmctl prefers the demo over test sandboxes. */
export const DEMO_MARKER = 'demo';

/** Sandboxes with at least one nsmgr socket: the demo's first, then newest first. */
export function findSandboxes(root = SANDBOX_ROOT): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((id) => sandboxSockets(root, id).length > 0)
    .map((id) => ({
      id,
      demo: existsSync(join(root, id, DEMO_MARKER)) ? 1 : 0,
      t: statSync(join(root, id)).mtimeMs,
    }))
    .sort((a, b) => b.demo - a.demo || b.t - a.t)
    .map((x) => x.id);
}

export function resolveTargets(
  flags: TargetFlags,
  env: NodeJS.ProcessEnv = process.env,
  root = SANDBOX_ROOT,
): Targets {
  const registryFlag = flags.registry ?? env.NSM_REGISTRY_URL;
  const registryOf = (nsmgrs: string[]) => (registryFlag ? normalise(registryFlag, '--registry') : nsmgrs[0]);
  if (flags.sandbox) {
    const socks = sandboxSockets(root, flags.sandbox);
    if (socks.length === 0) {
      throw invalidArgument(`--sandbox: no nsmgr socket under ${join(root, flags.sandbox)}`);
    }
    const nsmgrs = socks.map((s) => `unix://${s}`);
    return {
      nsmgrs,
      registry: registryOf(nsmgrs),
      source: `sandbox ${flags.sandbox}`,
      sandbox: flags.sandbox,
    };
  }
  const explicit = flags.nsmgr ?? env.NSM_CONNECT_TO;
  if (explicit) {
    const nsmgrs = splitURLs(explicit, flags.nsmgr ? '--nsmgr' : 'NSM_CONNECT_TO');
    if (nsmgrs.length === 0) throw invalidArgument('--nsmgr: no URL given');
    return { nsmgrs, registry: registryOf(nsmgrs), source: flags.nsmgr ? '--nsmgr' : 'NSM_CONNECT_TO' };
  }
  const [newest] = findSandboxes(root);
  if (newest && !existsSync(DEFAULT_NSMGR_URL.slice('unix://'.length))) {
    const nsmgrs = sandboxSockets(root, newest).map((s) => `unix://${s}`);
    return { nsmgrs, registry: registryOf(nsmgrs), source: `sandbox ${newest}`, sandbox: newest };
  }
  return { nsmgrs: [DEFAULT_NSMGR_URL], registry: registryOf([DEFAULT_NSMGR_URL]), source: 'default' };
}
