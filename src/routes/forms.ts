/** Reading url-encoded form bodies: every field is a single string or absent. */

export type FormBody = Record<string, unknown>;

export function asForm(body: unknown): FormBody {
  return typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as FormBody) : {};
}

/**
 * One field's value: the string sent, '' when absent, or null when the field
 * was repeated or is not text (which no form of this site sends).
 */
export function field(form: FormBody, name: string): string | null {
  const value = form[name];
  if (value === undefined) return '';
  return typeof value === 'string' ? value : null;
}

/** The value to show back in a form: what was sent, or nothing. */
export function shown(value: string | null): string {
  return value ?? '';
}
