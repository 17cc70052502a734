/**
 * Values derived from an object and kept beside it, keyed by the object's
 * identity. Every cache of that kind in the companion is made here, because
 * each one is correct only under two rules:
 *
 * 1. The key is never changed after a value is derived from it. Roster data
 *    is read-only in its types (`ReadonlyArray<Readonly<Learner>>`): an edit
 *    makes a new object, which has no entry yet, so a cached value can never
 *    describe an older state of its key.
 * 2. The value depends only on the key (and on fixed configuration), never on
 *    who asked for it. A value for one visitor (a CSRF token, a notice) must
 *    not be handed to another, so a value whose type contains a `PerRequest`
 *    part does not compile as a derived value.
 *
 * Entries go when their key is no longer referenced (a WeakMap).
 */

declare const perRequest: unique symbol;

/** A value made for one request (a CSRF token, a notice); never cached across requests. */
export type PerRequest<T> = T & { readonly [perRequest]: true };

/** Marks a value as belonging to one request only. */
export function perRequestValue<T>(value: T): PerRequest<T> {
  return value as PerRequest<T>;
}

type Primitive = string | number | boolean | bigint | symbol | null | undefined;

/**
 * `T` with every `PerRequest` part replaced by `never`, so that a value
 * holding one is not assignable to it.
 */
export type Shareable<T> = unknown extends T
  ? T
  : T extends { readonly [perRequest]: true }
  ? never
  : T extends Primitive
    ? T
    : T extends Promise<infer U>
      ? Promise<Shareable<U>>
      : T extends ReadonlyArray<infer U>
        ? ReadonlyArray<Shareable<U>>
        : T extends (...args: never[]) => unknown
          ? T
          : { readonly [K in keyof T]: Shareable<T[K]> };

export interface Derived<K extends object, V> {
  /** The value for `key`, derived on first use. */
  get(key: K): V;
  /** The value already derived for `key`, if any. */
  peek(key: K): V | undefined;
  /**
   * Records a value computed elsewhere for `key`; it must equal what the
   * derivation would give (an optimisation proven equal by a test).
   */
  remember(key: K, value: V & Shareable<V>): void;
  /** Drops the value for `key` (when it is handed on to another key). */
  forget(key: K): void;
}

/** A cache of values derived from keys by `derive`, under the rules above. */
export function derivedFrom<K extends object, V>(derive: (key: K) => V & Shareable<V>): Derived<K, V> {
  const values = new WeakMap<K, V>();
  return {
    get(key) {
      let value = values.get(key);
      if (value === undefined) {
        value = derive(key);
        values.set(key, value);
      }
      return value;
    },
    peek: (key) => values.get(key),
    remember(key, value) {
      values.set(key, value);
    },
    forget(key) {
      values.delete(key);
    },
  };
}
