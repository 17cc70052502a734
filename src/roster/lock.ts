/**
 * The cross-process lock around every read-modify-write of a roster file: a
 * `<file>.lock` directory beside the file (proper-lockfile), refreshed while
 * held and taken over when its holder stops refreshing it.
 */
import lockfile from 'proper-lockfile';
import type { Logger } from './errors.js';

/** Takes the cross-process lock for a roster file; resolves to its release. */
export type LockFn = (rosterPath: string) => Promise<() => Promise<void>>;

/**
 * The lock, with proper-lockfile. Only a lock held by someone else is waited
 * for (up to `waitMs`, polling every 10 to 100 ms); any other failure, such as
 * a missing folder or a read-only disk, is reported at once.
 */
export function properLock(staleMs: number, waitMs: number, log: Logger): LockFn {
  return async (rosterPath) => {
    const deadline = performance.now() + waitMs;
    for (let pause = 10; ; pause = Math.min(100, pause * 1.2)) {
      let release: () => Promise<void>;
      try {
        release = await lockfile.lock(rosterPath, {
          realpath: false,
          lockfilePath: `${rosterPath}.lock`,
          stale: staleMs,
          retries: 0,
          onCompromised: (error) => log.error({ err: error }, 'roster lock was compromised'),
        });
      } catch (error) {
        if ((error as NodeJS.ErrnoException)?.code !== 'ELOCKED' || performance.now() >= deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, pause * (0.5 + Math.random())));
        continue;
      }
      return async () => {
        try {
          await release();
        } catch (error) {
          log.warn({ err: error }, 'roster lock release failed');
        }
      };
    }
  };
}
