/** fast-check arbitraries shared by the property tests. */
import fc from 'fast-check';

export const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'.split('');
export const alnum = fc.constantFrom(...ALNUM);

/** Valid GitHub usernames by construction: alphanumerics with single hyphens dropped in between. */
export const validUsername = fc
  .tuple(fc.string({ unit: alnum, minLength: 1, maxLength: 39 }), fc.array(fc.nat(), { maxLength: 19 }))
  .map(([base, picks]) => {
    const chars = base.split('');
    for (const pick of picks) {
      if (chars.length < 3) break;
      const i = 1 + (pick % (chars.length - 2));
      if (chars[i - 1] !== '-' && chars[i + 1] !== '-') chars[i] = '-';
    }
    return chars.join('');
  });
