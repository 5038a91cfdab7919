// The first step of reading a small YAML configuration file (excluded prefixes, policy routes): the
// text as a plain value, with a syntax error reported as INVALID_ARGUMENT naming the file. What the
// value must look like is the caller's to check.
import { parse as parseYaml } from 'yaml';
import { getErrorMessage, invalidArgument } from '../errors/index.js';

/** The YAML document in `text` (read from `where`); undefined when the file is empty or `null`. */
export function parseYamlFile(text: string, where: string): unknown {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw invalidArgument(`failed to parse ${where}: ${getErrorMessage(e)}`, e);
  }
  return doc ?? undefined;
}
