// @fastify/csrf's types name the global CryptoKey, which @types/node@20 does not declare globally.
import type { webcrypto } from 'node:crypto';

declare global {
  type CryptoKey = webcrypto.CryptoKey;
}
