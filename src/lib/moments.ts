/**
 * A moment in words, as every page says it: "2 March 2026 at 16:05 UTC".
 *
 * Written out by hand rather than with Intl.DateTimeFormat: the words are
 * the same, but V8 keeps ICU's output as two-byte strings, and one such piece
 * in a page makes the whole page two-byte when it is sent, twice the memory
 * (a large dashboard page then crosses V8's large-object size, which makes
 * it slower to send). The companion's own words stay within Latin-1 for the
 * same reason; data from the roster or GitHub may still not, and a page
 * holding such data is only slower, never wrong.
 */
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'] as const;

const two = (n: number): string => String(n).padStart(2, '0');

/** A time (ms since the epoch) in words, in UTC. */
export function momentWords(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} at ${two(d.getUTCHours())}:${two(d.getUTCMinutes())} UTC`;
}
