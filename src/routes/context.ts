/** What every route module is given: the one way routes reach configuration, the roster and sessions. */
import type { Config } from '../config.js';
import type { FacilitatorSessions } from '../http/session.js';
import type { RosterStore } from '../roster/store.js';
import type { RosterSync } from '../github/sync.js';
import type { ProgressReader } from '../github/progress.js';
import type { FacilitatorOperations } from '../github/operations.js';
import type { OperationResults } from '../http/operation-results.js';

export interface AppContext {
  readonly config: Config;
  readonly store: RosterStore;
  readonly sessions: FacilitatorSessions;
  /** GitHub mode's roster sync; null in local mode. */
  readonly sync: RosterSync | null;
  /** GitHub mode's derived-progress reader; null in local mode. */
  readonly progress: ProgressReader | null;
  /** Facilitator operations: labels, invitations, provisioning (GitHub mode) and roster edits. */
  readonly operations: FacilitatorOperations;
  /** The results of operations, for the page shown after each. */
  readonly results: OperationResults;
}
