// kubectl-style output: an aligned table (columns padded to the widest cell, three spaces apart,
// upper-case headers, `<none>` for empty cells), the same table with more columns for `-o wide`,
// or the API objects themselves for `-o json|yaml` (proto3 JSON, what upstream tools print).
import { invalidArgument } from '../sdk/errors/index.js';

export const FORMATS = ['table', 'wide', 'json', 'yaml'] as const;
export type Format = (typeof FORMATS)[number];

export function parseFormat(s: string | undefined): Format {
  const f = s ?? 'table';
  if (!(FORMATS as readonly string[]).includes(f)) {
    throw invalidArgument(`-o: unknown output format "${f}" (use wide, json or yaml)`);
  }
  return f as Format;
}

export interface Column<R> {
  header: string;
  cell: (row: R) => string;
  /** Shown only with `-o wide`. */
  wide?: boolean;
}

const GAP = '   ';

export function table<R>(rows: R[], columns: Column<R>[], wide: boolean): string {
  const cols = columns.filter((c) => wide || !c.wide);
  const cells = rows.map((r) => cols.map((c) => c.cell(r) || '<none>'));
  const widths = cols.map((c, i) => Math.max(c.header.length, ...cells.map((row) => row[i].length)));
  const line = (row: string[]) =>
    row
      .map((s, i) => (i === row.length - 1 ? s : s.padEnd(widths[i])))
      .join(GAP)
      .trimEnd();
  return `${[line(cols.map((c) => c.header)), ...cells.map(line)].join('\n')}\n`;
}

/** A list for json/yaml: kubectl's List shape, so scripts can read `.items`. */
export function list(kind: string, items: unknown[], format: 'json' | 'yaml'): Promise<string> {
  return serialise({ kind: `${kind}List`, items }, format);
}

/** yaml is loaded only when asked for: it costs ~100 ms of start-up that a table does not need. */
export async function serialise(doc: unknown, format: 'json' | 'yaml'): Promise<string> {
  if (format === 'json') return `${JSON.stringify(doc, null, 2)}\n`;
  const { stringify } = await import('yaml');
  return stringify(doc);
}

/** A duration as kubectl prints ages: 45s, 3m12s, 2h5m, 4d. */
export function shortDuration(ms: number): string {
  const s = Math.floor(Math.abs(ms) / 1000);
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${s % 60 ? `${s % 60}s` : ''}`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h${m % 60 ? `${m % 60}m` : ''}`;
  return `${Math.floor(h / 24)}d`;
}

/** When a token or registration expires, relative to now: "in 9m58s", "expired 3s ago". */
export function expiry(at: Date | undefined, now = Date.now()): string {
  if (!at) return '';
  const d = at.getTime() - now;
  return d >= 0 ? `in ${shortDuration(d)}` : `expired ${shortDuration(d)} ago`;
}
