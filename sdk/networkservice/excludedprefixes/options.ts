// Options of the excludedprefixes client.
import type { AwarenessGroup } from '../../tools/awarenessgroups/index.js';

export interface ClientOptions {
  /**
   * Awareness groups (NSM_AWARENESS_GROUPS): connections whose NSURL is in the same group may overlap
   * each other; connections in different groups, or in none, are kept apart. Default: no groups.
   */
  readonly awarenessGroups?: readonly AwarenessGroup[];
}
