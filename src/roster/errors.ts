/** The ways the roster file can fail to be used, as the store reports them. */

export type RosterProblem = 'unreadable' | 'unwritable' | 'busy';

/** The roster could not be used; `problem` says which way, `cause` has the details for the log. */
export class RosterUnavailableError extends Error {
  override readonly name = 'RosterUnavailableError';
  constructor(readonly problem: RosterProblem, options: { cause: unknown }) {
    super(`roster ${problem}: ${(options.cause as Error)?.message ?? String(options.cause)}`, options);
  }
}

/** The roster file is larger than the configured limit, so it is not read into memory. */
export class RosterTooLargeError extends Error {
  override readonly name = 'RosterTooLargeError';
  constructor(readonly bytes: number, readonly limit: number) {
    super(`the roster file is ${bytes} bytes, over the limit of ${limit} bytes (COMPANION_ROSTER_MAX_BYTES)`);
  }
}

/** Where the store writes what an operator needs to know (pino's shape). */
export interface Logger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export const silentLog: Logger = { info() {}, warn() {}, error() {} };
