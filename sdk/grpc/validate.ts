// Size and shape checks on what arrives from the network, before any element sees it, so an
// oversized or malformed value gets INVALID_ARGUMENT naming the field instead of reaching the kernel.
import type { Connection } from '../../api/gen/networkservice/connection.js';
import { invalidArgument } from '../errors/index.js';

export const MAX_STRING_LENGTH = 1024;
export const MAX_MAP_ENTRIES = 256;
export const MAX_LIST_ENTRIES = 256;

function checkString(value: string, where: string): void {
  if (value.length > MAX_STRING_LENGTH) {
    throw invalidArgument(`${where} is ${value.length} characters long; the limit is ${MAX_STRING_LENGTH}`);
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(value)) throw invalidArgument(`${where} contains control characters`);
}

function checkMap(m: Record<string, string> | undefined, where: string): void {
  if (!m) return;
  const entries = Object.entries(m);
  if (entries.length > MAX_MAP_ENTRIES) {
    throw invalidArgument(`${where} has ${entries.length} entries; the limit is ${MAX_MAP_ENTRIES}`);
  }
  for (const [k, v] of entries) {
    checkString(k, `${where} key "${k.slice(0, 40)}"`);
    checkString(v, `${where}["${k.slice(0, 40)}"]`);
  }
}

function checkList(list: readonly string[] | undefined, where: string): void {
  if (!list) return;
  if (list.length > MAX_LIST_ENTRIES) {
    throw invalidArgument(`${where} has ${list.length} entries; the limit is ${MAX_LIST_ENTRIES}`);
  }
  list.forEach((s, i) => {
    checkString(s, `${where}[${i}]`);
  });
}

export function validateConnection(conn: Connection, where: string): void {
  checkString(conn.id, `${where}.id`);
  checkString(conn.networkService, `${where}.network_service`);
  checkString(conn.networkServiceEndpointName, `${where}.network_service_endpoint_name`);
  checkString(conn.payload, `${where}.payload`);
  checkMap(conn.labels, `${where}.labels`);
  if (conn.mechanism) {
    checkString(conn.mechanism.cls, `${where}.mechanism.cls`);
    checkString(conn.mechanism.type, `${where}.mechanism.type`);
    checkMap(conn.mechanism.parameters, `${where}.mechanism.parameters`);
  }
  const ip = conn.context?.ipContext;
  if (ip) {
    checkList(ip.srcIpAddrs, `${where}.context.ip_context.src_ip_addrs`);
    checkList(ip.dstIpAddrs, `${where}.context.ip_context.dst_ip_addrs`);
    checkList(ip.excludedPrefixes, `${where}.context.ip_context.excluded_prefixes`);
    for (const [name, routes] of [
      ['src_routes', ip.srcRoutes],
      ['dst_routes', ip.dstRoutes],
    ] as const) {
      if (routes.length > MAX_LIST_ENTRIES)
        throw invalidArgument(`${where}.context.ip_context.${name} is too long`);
      routes.forEach((r, i) => {
        checkString(r.prefix, `${where}.context.ip_context.${name}[${i}].prefix`);
        checkString(r.nextHop, `${where}.context.ip_context.${name}[${i}].nextHop`);
      });
    }
  }
  const segments = conn.path?.pathSegments ?? [];
  if (segments.length > 64)
    throw invalidArgument(`${where}.path has ${segments.length} segments; the limit is 64`);
  segments.forEach((s, i) => {
    checkString(s.name, `${where}.path.path_segments[${i}].name`);
    checkString(s.id, `${where}.path.path_segments[${i}].id`);
    if (s.token.length > 8192) throw invalidArgument(`${where}.path.path_segments[${i}].token is too long`);
  });
  if (conn.path && conn.path.index >= Math.max(1, segments.length)) {
    throw invalidArgument(
      `${where}.path.index ${conn.path.index} is out of range (${segments.length} segments)`,
    );
  }
}
