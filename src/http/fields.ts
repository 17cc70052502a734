/**
 * Reading request fields, from a url-encoded form body or a query string
 * alike: every field is a single string or absent.
 */
import type { FastifyRequest } from 'fastify';

export type Fields = Readonly<Record<string, unknown>>;

function fieldsOf(value: unknown): Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Fields) : {};
}

/** The fields of the request's url-encoded form body (none when there is no such body). */
export function formFields(request: FastifyRequest): Fields {
  return fieldsOf(request.body);
}

/** The fields of the request's query string. */
export function queryFields(request: FastifyRequest): Fields {
  return fieldsOf(request.query);
}

/**
 * One field's value: the string sent, '' when absent, or null when the field
 * was repeated or is not text (which no form or link of this site sends).
 */
export function field(fields: Fields, name: string): string | null {
  const value = fields[name];
  if (value === undefined) return '';
  return typeof value === 'string' ? value : null;
}

/**
 * A field a form may send several times (check boxes with one name): every
 * value sent, in order (none when absent), or null when one is not text.
 */
export function fieldList(fields: Fields, name: string): string[] | null {
  const value = fields[name];
  if (value === undefined) return [];
  if (typeof value === 'string') return [value];
  return Array.isArray(value) && value.every((v) => typeof v === 'string') ? [...(value as string[])] : null;
}

/** The value to show back in a form: what was sent, or nothing. */
export function shown(value: string | null): string {
  return value ?? '';
}
