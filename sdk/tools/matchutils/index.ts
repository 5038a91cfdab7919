export {
  DEFAULT_FORWARDER_LABELS,
  FORWARDER_SERVICE_NAME,
  isSubset,
  type Labels,
  type MatchForwardersOptions,
  matchEndpoints,
  matchForwarders,
} from './match-endpoint.js';
export { matchNseTemplate, matchNsTemplate } from './match-template.js';
export { NO_VALUE, renderLabelTemplate } from './template.js';
