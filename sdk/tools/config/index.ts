export { ConfigError, isConfigError } from './config-error.js';
export {
  CONFIG_EXIT_CODE,
  type ConfigOf,
  envTable,
  loadConfig,
  type Schema,
} from './load.js';
export { loggingSchema } from './logging.js';
export { observabilitySchema } from './observability.js';
export { type Field, type FieldMeta, parseDuration, parseLabels, t, type Valued } from './types.js';
export { formatNsmUrl, type NsmUrl, type ParseUrlOptions, parseNsmUrl, type UrlResult } from './url.js';
