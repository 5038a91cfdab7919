// Reads the batch lines that commands.ts and policy.ts build back into operations, so that they can
// go to rtnetlink instead of iproute2. Only the exact shapes our builders emit are read; anything
// else (a bridge, a rule, a hand-written line) is `undefined`, and its batch runs through
// iproute2 as before. Values are parsed again with validate.ts, so an odd token is refused here too.
import type { Cidr } from '../validate.js';
import {
  checkAlias,
  checkIfName,
  checkMac,
  checkMtu,
  checkNetnsPath,
  checkPort,
  checkVni,
  parseCidr,
  parseIp,
} from '../validate.js';

/** A link being created: a veth end or a VXLAN. */
export interface NewLink {
  readonly name: string;
  /** Namespace path it is born in; null: where the batch runs. */
  readonly netns: string | null;
  readonly mtu?: number;
  readonly mac?: string;
}

export type LineOp =
  | { readonly kind: 'veth'; readonly a: NewLink; readonly b: NewLink }
  | {
      readonly kind: 'vxlan';
      readonly link: NewLink;
      readonly vni: number;
      readonly local: Cidr;
      readonly remote: Cidr;
      readonly port: number;
      /** Underlay device, in the namespace the batch runs in. */
      readonly dev?: string;
    }
  | {
      readonly kind: 'set';
      readonly dev: string;
      readonly alias?: string;
      readonly mtu?: number;
      readonly up: boolean;
    }
  | { readonly kind: 'addr'; readonly dev: string; readonly address: Cidr; readonly nodad: boolean }
  | {
      readonly kind: 'route';
      readonly dev: string;
      readonly prefix: Cidr;
      readonly via?: Cidr;
      readonly onlink: boolean;
      readonly table?: number;
    }
  | { readonly kind: 'neigh'; readonly dev: string; readonly ip: Cidr; readonly mac: string }
  | { readonly kind: 'del'; readonly dev: string }
  | { readonly kind: 'show'; readonly dev: string };

/** The operations of a whole batch, or undefined when one line is not a shape we read. */
export function readLines(commands: readonly string[]): LineOp[] | undefined {
  const out: LineOp[] = [];
  for (const c of commands) {
    const op = readLine(c);
    if (!op) return undefined;
    out.push(op);
  }
  return out;
}

/** One batch line as an operation, or undefined. */
export function readLine(command: string): LineOp | undefined {
  try {
    return read(command.trim().split(/\s+/));
  } catch {
    return undefined; // a value validate.ts refuses: let iproute2 say what is wrong with it
  }
}

function read(t: string[]): LineOp | undefined {
  const [object, verb] = t;
  if (object === 'link' && verb === 'add') return readVeth(t.slice(2)) ?? readVxlan(t.slice(2));
  if (object === 'link' && verb === 'set') return readSet(t.slice(2));
  if (object === 'link' && (verb === 'del' || verb === 'show') && t.length === 4 && t[2] === 'dev') {
    return { kind: verb, dev: checkIfName(t[3]) };
  }
  if (object === 'addr' && verb === 'replace') return readAddr(t.slice(2));
  if (object === 'route' && verb === 'replace') return readRoute(t.slice(2));
  if (object === 'neigh' && verb === 'replace') return readNeigh(t.slice(2));
  return undefined;
}

/** `name A [netns P] [mtu M] [address MAC] type veth peer name B [netns Q] [mtu M] [address MAC]` */
function readVeth(t: string[]): LineOp | undefined {
  const at = t.indexOf('type');
  if (at < 0 || t[at + 1] !== 'veth' || t[at + 2] !== 'peer') return undefined;
  const a = readEnd(t.slice(0, at));
  const b = readEnd(t.slice(at + 3));
  return a && b ? { kind: 'veth', a, b } : undefined;
}

/** `name A [netns P] [mtu M] [address MAC] type vxlan id V local L remote R dstport N [dev D]` */
function readVxlan(t: string[]): LineOp | undefined {
  const at = t.indexOf('type');
  if (at < 0 || t[at + 1] !== 'vxlan') return undefined;
  const link = readEnd(t.slice(0, at));
  const o = pairs(t.slice(at + 2), ['id', 'local', 'remote', 'dstport', 'dev']);
  if (!link || !o?.id || !o.local || !o.remote || !o.dstport) return undefined;
  const local = parseIp(o.local);
  const remote = parseIp(o.remote);
  if (local.family !== remote.family) return undefined;
  return {
    kind: 'vxlan',
    link,
    vni: checkVni(number(o.id)),
    local,
    remote,
    port: checkPort(number(o.dstport)),
    dev: o.dev === undefined ? undefined : checkIfName(o.dev),
  };
}

function readEnd(t: string[]): NewLink | undefined {
  const o = pairs(t, ['name', 'netns', 'mtu', 'address']);
  if (!o?.name) return undefined;
  return {
    name: checkIfName(o.name),
    netns: o.netns === undefined ? null : checkNetnsPath(o.netns),
    mtu: o.mtu === undefined ? undefined : checkMtu(number(o.mtu)),
    mac: o.address === undefined ? undefined : checkMac(o.address),
  };
}

/** `dev X [alias A] [mtu M] [up]` */
function readSet(t: string[]): LineOp | undefined {
  const up = t.at(-1) === 'up';
  const o = pairs(up ? t.slice(0, -1) : t, ['dev', 'alias', 'mtu']);
  if (!o?.dev) return undefined;
  return {
    kind: 'set',
    dev: checkIfName(o.dev),
    alias: o.alias === undefined ? undefined : checkAlias(o.alias),
    mtu: o.mtu === undefined ? undefined : checkMtu(number(o.mtu)),
    up,
  };
}

/** `CIDR dev X [nodad]` */
function readAddr(t: string[]): LineOp | undefined {
  const nodad = t.at(-1) === 'nodad';
  const [cidr, ...rest] = nodad ? t.slice(0, -1) : t;
  const o = pairs(rest, ['dev']);
  if (!cidr || !o?.dev) return undefined;
  return { kind: 'addr', dev: checkIfName(o.dev), address: parseCidr(cidr), nodad };
}

/** `NET dev X scope link [table N]` or `NET via [inet6] GW dev X [table N] onlink` */
function readRoute(t: string[]): LineOp | undefined {
  const onlink = t.at(-1) === 'onlink';
  let [net, ...rest] = onlink ? t.slice(0, -1) : t;
  let via: Cidr | undefined;
  if (rest[0] === 'via') {
    const gw = rest[1] === 'inet6' ? rest[2] : rest[1];
    if (gw === undefined) return undefined;
    via = parseIp(gw);
    rest = rest.slice(rest[1] === 'inet6' ? 3 : 2);
  }
  const o = pairs(rest, ['dev', 'scope', 'table']);
  if (!net || !o?.dev) return undefined;
  // Ours: a direct route says `scope link`, a route via a next hop says `onlink` and no scope.
  if (via ? o.scope !== undefined || !onlink : o.scope !== 'link' || onlink) return undefined;
  const table = o.table === undefined ? undefined : number(o.table);
  if (table !== undefined && (table < 1 || table > 0xffffffff)) return undefined;
  return { kind: 'route', dev: checkIfName(o.dev), prefix: parseCidr(net), via, onlink, table };
}

/** `IP lladdr MAC dev X nud permanent` */
function readNeigh(t: string[]): LineOp | undefined {
  const [ip, ...rest] = t;
  const o = pairs(rest, ['lladdr', 'dev', 'nud']);
  if (!ip || !o?.lladdr || !o.dev || o.nud !== 'permanent') return undefined;
  return { kind: 'neigh', dev: checkIfName(o.dev), ip: parseIp(ip), mac: checkMac(o.lladdr) };
}

/** `key value` pairs with only these keys, each at most once; undefined otherwise. */
function pairs(t: string[], keys: readonly string[]): Record<string, string> | undefined {
  if (t.length % 2 !== 0) return undefined;
  const out: Record<string, string> = {};
  for (let i = 0; i < t.length; i += 2) {
    if (!keys.includes(t[i]) || t[i] in out) return undefined;
    out[t[i]] = t[i + 1];
  }
  return out;
}

function number(s: string): number {
  if (!/^\d{1,10}$/.test(s)) throw new Error(`not a number: ${s}`);
  return Number(s);
}
