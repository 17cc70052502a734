/** Times as people read them: "2 March 2026 at 16:05 UTC", with the ISO value for <time>. */
import type { TimeModel } from '../http/views.js';
import { momentWords } from '../lib/moments.js';

export function timeModel(value: string | null | undefined): TimeModel | null {
  if (typeof value !== 'string') return null;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) return null;
  return { iso: new Date(ms).toISOString(), text: momentWords(ms) };
}
