export {
  type AwarenessGroup,
  type ConnectionIdentity,
  groupOf,
  parseAwarenessGroups,
} from './awarenessgroups.js';
