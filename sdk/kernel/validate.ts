// Input validation for values that reach an iproute2 batch line. Everything here may come from the
// network (a peer's Request), so each check either returns a canonical form, rebuilt from the parsed
// value, or throws INVALID_ARGUMENT naming the field and the bad value. A canonical form never
// contains whitespace, quotes or '#', so it cannot split a batch line or start a comment.
import { Address4, Address6 } from 'ip-address';
import { invalidArgument } from '../errors/index.js';

/** Linux IFNAMSIZ - 1. */
export const IFNAME_MAX_LENGTH = 15;
/** Kernel limit for IFLA_IFALIAS. */
export const ALIAS_MAX_BYTES = 255;
export const VNI_MAX = 0xffffff;
export const MTU_MIN = 68;
export const MTU_MAX = 65535;

export type IpFamily = 4 | 6;

/** A parsed address with its prefix length; `ip` is the address itself (host bits kept). */
export interface Cidr {
  readonly family: IpFamily;
  readonly ip: string;
  readonly prefixLength: number;
  /** The address as a number, for containment tests. */
  readonly value: bigint;
}

// Printable ASCII without space, quotes, '#' (comment in a batch line) and backslash (escape).
const SAFE_TOKEN = /^[\x21\x24-\x26\x28-\x5b\x5d-\x7e]+$/;

function bad(field: string, value: unknown, why: string): never {
  throw invalidArgument(`invalid ${field} ${JSON.stringify(value)}: ${why}`);
}

/** A kernel interface name: 1..15 characters, no '/', ':', whitespace or quotes, not "." or "..". */
export function checkIfName(value: string, field = 'interface name'): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > IFNAME_MAX_LENGTH) {
    bad(field, value, `must be 1-${IFNAME_MAX_LENGTH} characters`);
  }
  if (!SAFE_TOKEN.test(value) || value.includes('/') || value.includes(':')) {
    bad(field, value, 'must be printable ASCII without "/", ":", whitespace, quotes, "#" or "\\"');
  }
  if (value === '.' || value === '..') bad(field, value, 'is reserved');
  return value;
}

/** A link alias (ownership mark): 1..255 printable ASCII characters without whitespace or quotes. */
export function checkAlias(value: string, field = 'alias'): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > ALIAS_MAX_BYTES) {
    bad(field, value, `must be 1-${ALIAS_MAX_BYTES} characters`);
  }
  if (!SAFE_TOKEN.test(value))
    bad(field, value, 'must be printable ASCII without whitespace, quotes, "#" or "\\"');
  return value;
}

/** An absolute path to a namespace file, safe to put on a batch line. */
export function checkNetnsPath(value: string, field = 'netns path'): string {
  if (typeof value !== 'string' || !value.startsWith('/') || !SAFE_TOKEN.test(value)) {
    bad(field, value, 'must be an absolute path of printable characters without whitespace or quotes');
  }
  return value;
}

export function checkMtu(value: number, field = 'mtu'): number {
  if (!Number.isInteger(value) || value < MTU_MIN || value > MTU_MAX) {
    bad(field, value, `must be an integer in ${MTU_MIN}..${MTU_MAX}`);
  }
  return value;
}

export function checkVni(value: number, field = 'vni'): number {
  if (!Number.isInteger(value) || value < 1 || value > VNI_MAX)
    bad(field, value, `must be an integer in 1..${VNI_MAX}`);
  return value;
}

export function checkPort(value: number, field = 'port'): number {
  if (!Number.isInteger(value) || value < 1 || value > 65535)
    bad(field, value, 'must be an integer in 1..65535');
  return value;
}

function parseAny(value: string, field: string, wantPrefix: boolean): Cidr {
  if (typeof value !== 'string' || value.length === 0) bad(field, value, 'must not be empty');
  if (value.includes('%')) bad(field, value, 'zone identifiers are not allowed');
  const slash = value.indexOf('/');
  if (wantPrefix && slash < 0) bad(field, value, 'must be in CIDR form (address/prefix length)');
  if (!wantPrefix && slash >= 0) bad(field, value, 'must be an address without a prefix length');
  if (slash >= 0 && !/^\d{1,3}$/.test(value.slice(slash + 1)))
    bad(field, value, 'has a malformed prefix length');
  if (value.includes(':')) {
    let a: Address6;
    try {
      a = new Address6(value);
    } catch {
      bad(field, value, 'is not a valid IPv6 address');
    }
    return { family: 6, ip: a.correctForm(), prefixLength: a.subnetMask, value: a.bigInt() };
  }
  let a: Address4;
  try {
    a = new Address4(value);
  } catch {
    bad(field, value, 'is not a valid IPv4 address');
  }
  return { family: 4, ip: a.correctForm(), prefixLength: a.subnetMask, value: a.bigInt() };
}

/** An address with prefix length, e.g. "172.16.1.101/32" or "fd00::1/64". */
export function parseCidr(value: string, field = 'address'): Cidr {
  return parseAny(value, field, true);
}

/** A bare address, e.g. a next hop or a neighbour. */
export function parseIp(value: string, field = 'ip'): Cidr {
  return parseAny(value, field, false);
}

export function bits(family: IpFamily): number {
  return family === 4 ? 32 : 128;
}

/** "ip/len" with host bits kept (an interface address). */
export function cidrString(c: Cidr): string {
  return `${c.ip}/${c.prefixLength}`;
}

/** The network of a prefix with host bits cleared, as iproute2 wants for a route ("10.0.0.0/24"). */
export function networkString(c: Cidr): string {
  const total = bits(c.family);
  const hostBits = BigInt(total - c.prefixLength);
  const net = (c.value >> hostBits) << hostBits;
  const ip = c.family === 4 ? Address4.fromBigInt(net).correctForm() : Address6.fromBigInt(net).correctForm();
  return `${ip}/${c.prefixLength}`;
}

/** True when `ip` lies inside the prefix `net` (same family only). */
export function contains(net: Cidr, ip: Cidr): boolean {
  if (net.family !== ip.family) return false;
  const hostBits = BigInt(bits(net.family) - net.prefixLength);
  return net.value >> hostBits === ip.value >> hostBits;
}

/** A MAC address in colon or dash notation; returns lower-case colon notation. */
export function checkMac(value: string, field = 'mac'): string {
  if (typeof value !== 'string' || !/^[0-9a-fA-F]{2}([:-][0-9a-fA-F]{2}){5}$/.test(value)) {
    bad(field, value, 'must be a 48-bit MAC address like 02:42:ac:11:00:02');
  }
  const sep = value[2];
  if (value.split(sep).length !== 6) bad(field, value, 'mixes separators');
  return value.toLowerCase().replaceAll('-', ':');
}
