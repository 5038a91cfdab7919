// Reads a binary's config schema from the environment (like upstream's envconfig). An unset or empty
// variable takes the field's default; a required field without a value, or a value that does not
// parse, is a ConfigError naming the variable.
import { getErrorMessage } from '../../errors/index.js';
import { ConfigError } from './config-error.js';
import type { Field } from './types.js';

export type Schema = Record<string, Field<unknown>>;
export type ConfigOf<S> = { [K in keyof S]: S[K] extends Field<infer T> ? T : never };

/** Exit code for a bad configuration (usage error). */
export const CONFIG_EXIT_CODE = 2;

export function loadConfig<S extends Schema>(schema: S, env: NodeJS.ProcessEnv = process.env): ConfigOf<S> {
  const out: Record<string, unknown> = {};
  for (const [key, f] of Object.entries(schema)) {
    const raw = env[f.env];
    const fromEnv = raw !== undefined && raw !== '';
    const text = fromEnv ? raw : f.default;
    if (text === undefined) {
      if (f.required) throw new ConfigError(f.env, 'is required but not set');
      out[key] = undefined;
      continue;
    }
    try {
      out[key] = f.parse(text);
    } catch (e) {
      const problem = getErrorMessage(e);
      throw new ConfigError(f.env, fromEnv ? problem : `bad default: ${problem}`, text);
    }
  }
  return out as ConfigOf<S>;
}

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** The README's env table, columns padded as markdown formatters print them: Variable | Default | Description. */
export function envTable(schema: Schema): string {
  const rows = Object.values(schema).map((f) => {
    const def =
      f.default !== undefined && f.default !== '' ? `\`${f.default}\`` : f.required ? '(required)' : '';
    return [`\`${f.env}\``, cell(def), cell(f.description)];
  });
  const header = ['Variable', 'Default', 'Description'];
  const widths = header.map((h, i) => Math.max(3, h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
