// Parsing and formatting of IP addresses and CIDRs as BigInt ranges. ip-address does the parsing; this
// file only adds the rules we want on top (no zones, no whitespace, CIDR must carry a prefix length) and
// turns every failure into an INVALID_ARGUMENT that names the offending text.
import { Address4, Address6 } from 'ip-address';
import { invalidArgument } from '../../errors/index.js';

export type IpFamily = 4 | 6;

/** An inclusive range of addresses of one family. */
export interface IpRange {
  family: IpFamily;
  first: bigint;
  last: bigint;
}

/** A parsed CIDR: the network it covers (host bits dropped, as Go's net.ParseCIDR does). */
export interface Cidr extends IpRange {
  /** The text it was parsed from, for messages. */
  text: string;
  prefixLength: number;
}

/** A parsed address; prefixLength is set when the text carried "/<len>". */
export interface IpAddress {
  family: IpFamily;
  value: bigint;
  prefixLength?: number;
}

export const HOST_PREFIX_LENGTH: Record<IpFamily, number> = { 4: 32, 6: 128 };

const PREFIX_LENGTH = /^\d{1,3}$/;

function familyOf(text: string): IpFamily {
  return text.includes(':') ? 6 : 4;
}

function parseWithLibrary(what: string, text: string): { family: IpFamily; addr: Address4 | Address6 } {
  if (text === '' || /[\s%]/.test(text)) {
    throw invalidArgument(`invalid ${what} "${text}": empty, whitespace or zone index`);
  }
  const family = familyOf(text);
  try {
    return { family, addr: family === 4 ? new Address4(text) : new Address6(text) };
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    throw invalidArgument(`invalid ${what} "${text}": ${reason}`, e);
  }
}

function checkPrefixLength(what: string, text: string): number | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const len = text.slice(slash + 1);
  if (!PREFIX_LENGTH.test(len))
    throw invalidArgument(`invalid ${what} "${text}": bad prefix length "${len}"`);
  return Number(len);
}

/** Parses "a.b.c.d/len" or "x::y/len". Host bits may be set ("192.168.3.4/16" is 192.168.0.0/16). */
export function parseCidr(text: string): Cidr {
  const prefixLength = checkPrefixLength('CIDR', text);
  if (prefixLength === undefined) throw invalidArgument(`invalid CIDR "${text}": missing "/<prefix length>"`);
  const { family, addr } = parseWithLibrary('CIDR', text);
  return {
    family,
    first: addr.startAddress().bigInt(),
    last: addr.endAddress().bigInt(),
    prefixLength,
    text,
  };
}

/**
 * Parses an address, optionally followed by "/len" (as IPContext carries them: "172.16.1.101/32").
 * The address part is what counts: "10.0.0.5/24" is 10.0.0.5, as with Go's net.ParseCIDR IP result.
 */
export function parseAddress(text: string): IpAddress {
  const prefixLength = checkPrefixLength('IP address', text);
  const { family, addr } = parseWithLibrary('IP address', text);
  return prefixLength === undefined
    ? { family, value: addr.bigInt() }
    : { family, value: addr.bigInt(), prefixLength };
}

/** Like parseAddress but returns undefined instead of throwing. */
export function tryParseAddress(text: string): IpAddress | undefined {
  try {
    return parseAddress(text);
  } catch {
    return undefined;
  }
}

/**
 * Parses a prefix for exclusion lists: a CIDR, or a bare address meaning a single host (/32 or /128).
 */
export function parsePrefix(text: string): Cidr {
  if (text.includes('/')) return parseCidr(text);
  const { family, value } = parseAddress(text);
  return { family, first: value, last: value, prefixLength: HOST_PREFIX_LENGTH[family], text };
}

/** Canonical text of an address: dotted quad, or RFC 5952 compressed IPv6. */
export function formatAddress(family: IpFamily, value: bigint): string {
  return family === 4 ? Address4.fromBigInt(value).correctForm() : Address6.fromBigInt(value).correctForm();
}

/** "172.16.1.100/32" or "fd00::1/128". */
export function formatHostPrefix(family: IpFamily, value: bigint): string {
  return `${formatAddress(family, value)}/${HOST_PREFIX_LENGTH[family]}`;
}

export function familyName(family: IpFamily): string {
  return family === 4 ? 'IPv4' : 'IPv6';
}
