export { newClient } from './client.js';
export { clientPrefixes, mergePrefixes, overlaps, parsePrefixesFile } from './common.js';
export type { ClientOptions } from './options.js';
export { newServer } from './server.js';
export type { FilePrefixSourceOptions, PrefixSource } from './source.js';
export { DEFAULT_EXCLUDED_PREFIXES_FILE, newFilePrefixSource, staticPrefixes } from './source.js';
