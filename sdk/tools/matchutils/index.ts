export {
  DEFAULT_FORWARDER_LABELS,
  type EndpointSelection,
  FORWARDER_SERVICE_NAME,
  isSubset,
  type Labels,
  type MatchForwardersOptions,
  matchEndpoints,
  matchForwarders,
  selectEndpoints,
  type WeightedEndpoint,
} from './match-endpoint.js';
export { matchNseTemplate, matchNsTemplate } from './match-template.js';
export { NO_VALUE, renderLabelTemplate } from './template.js';
