/** Times as people read them: "2 March 2026, 16:05 UTC", with the ISO value for <time>. */
import type { TimeModel } from '../http/views.js';

const FORMAT = new Intl.DateTimeFormat('en-GB', {
  day: 'numeric',
  month: 'long',
  year: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  hour12: false,
  timeZone: 'UTC',
});

export function timeModel(value: string | null | undefined): TimeModel | null {
  if (typeof value !== 'string') return null;
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return null;
  return { iso: date.toISOString(), text: `${FORMAT.format(date)} UTC` };
}
