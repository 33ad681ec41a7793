import { randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import { badRequest } from '../errors.ts';
import { ScryptPool, type ScryptPoolOptions } from './scrypt-pool.ts';

/**
 * Passwords (and cloud-film access codes) are hashed with scrypt, a memory-hard KDF that
 * Node's crypto ships (no native add-on to build). N = 2^17, r = 8, p = 1 as OWASP asks:
 * 128 MiB and about half a second per hash on a server core, in a pool of worker threads of
 * its own (scrypt-pool.ts) so that a login flood cannot starve file I/O. The parameters are
 * stored with the hash ("scrypt$N$r$p$salt$hash"), so older hashes (N = 2^15) still verify
 * and are re-hashed at the current cost on the next successful login (needsRehash).
 */
const BLOCK_SIZE = 8;
const PARALLELISM = 1;
const KEY_LENGTH = 32;
/** A stored hash asking for more than this is refused rather than allowed to claim gigabytes. */
const MAX_COST_LOG2 = 20;

export const DEFAULT_COST_LOG2 = 17;
export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 256;

export interface PasswordHashingOptions extends ScryptPoolOptions {
  /**
   * log2 of scrypt's N for new hashes [17]. Lower only for test suites that create many users
   * (test-support sets it); never in production.
   */
  costLog2?: number;
}

let costLog2 = DEFAULT_COST_LOG2;
let pool: ScryptPool | undefined;
let poolOptions: ScryptPoolOptions = {};

/** Sets the process's hashing cost and pool (server start, the CLI); a changed pool size takes effect for new workers. */
export function configurePasswordHashing(options: PasswordHashingOptions): void {
  if (options.costLog2 !== undefined) {
    if (!Number.isInteger(options.costLog2) || options.costLog2 < 10 || options.costLog2 > MAX_COST_LOG2) throw new Error(`the scrypt cost log2 must be 10..${MAX_COST_LOG2}`);
    if (options.costLog2 !== costLog2) dummyHash = undefined;
    costLog2 = options.costLog2;
  }
  const next = { threads: options.threads ?? poolOptions.threads, maxQueued: options.maxQueued ?? poolOptions.maxQueued };
  if (pool && (next.threads !== poolOptions.threads || next.maxQueued !== poolOptions.maxQueued)) {
    void pool.close();
    pool = undefined;
  }
  poolOptions = next;
}

function hashingPool(): ScryptPool {
  pool ??= new ScryptPool(poolOptions);
  return pool;
}

/** scrypt needs 128·N·r bytes; maxmem is set explicitly (Node's default of 32 MiB refuses N = 2^17). */
const maxmemFor = (N: number, r: number): number => Math.max(256 * 1024 * 1024, 2 * 128 * N * r);

function derive(password: string, salt: Buffer, keyLength: number, N: number, r: number, p: number): Promise<Buffer> {
  return hashingPool().derive({ password, salt, keyLength, N, r, p, maxmem: maxmemFor(N, r) });
}

/** "scrypt$N$r$p$salt$hash", base64 salt and hash. Refuses with 503 PASSWORD_HASHING_BUSY when the pool's queue is full. */
export async function hashPassword(password: string): Promise<string> {
  const N = 2 ** costLog2;
  const salt = randomBytes(16);
  const key = await derive(password, salt, KEY_LENGTH, N, BLOCK_SIZE, PARALLELISM);
  return ['scrypt', N, BLOCK_SIZE, PARALLELISM, salt.toString('base64'), key.toString('base64')].join('$');
}

interface StoredHash {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

function parseStored(stored: string): StoredHash | undefined {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return undefined;
  const [N, R, P] = [Number(n), Number(r), Number(p)];
  if (!Number.isInteger(N) || N < 2 || N > 2 ** MAX_COST_LOG2 || (N & (N - 1)) !== 0 || !Number.isInteger(R) || R < 1 || R > 32 || !Number.isInteger(P) || P < 1 || P > 16) return undefined;
  return { N, r: R, p: P, salt: Buffer.from(salt, 'base64'), hash: Buffer.from(hash, 'base64') };
}

/** Verifies with the stored parameters. Refuses with 503 PASSWORD_HASHING_BUSY (nothing verified) when the pool's queue is full. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parseStored(stored);
  if (!parsed || parsed.hash.length === 0) return false;
  const key = await derive(password, parsed.salt, parsed.hash.length, parsed.N, parsed.r, parsed.p);
  return key.length === parsed.hash.length && timingSafeEqual(key, parsed.hash);
}

/** True when a hash was made at a lower cost than new hashes get: re-hash it after a successful login. */
export function needsRehash(stored: string): boolean {
  const parsed = parseStored(stored);
  return !parsed || parsed.N < 2 ** costLog2 || parsed.r < BLOCK_SIZE;
}

/**
 * A hash to verify against when the user does not exist, so that a wrong user name costs
 * the same time as a wrong password and does not reveal which accounts exist.
 */
let dummyHash: Promise<string> | undefined;
export function dummyPasswordHash(): Promise<string> {
  const made = (dummyHash ??= hashPassword(randomBytes(16).toString('hex')));
  made.catch(() => {
    if (dummyHash === made) dummyHash = undefined; // busy at first use: try again next time
  });
  return made;
}

// Password policy

/** Which rule a refused password broke; the web app shows each in the user's language. */
export type PasswordRule = 'length' | 'classes' | 'username' | 'common';

/**
 * The commonest passwords and their bases (compared after lower-casing, undoing 0→o, 1→i,
 * 3→e, 4/@→a, 5/$→s, and dropping trailing digits and symbols: Passw0rd, Admin@123 and
 * Qwerty2024! are all refused). Short on purpose: the length and class rules do the rest.
 */
const COMMON_PASSWORDS = [
  'password', 'passwd', 'pass', 'admin', 'administrator', 'root', 'user', 'guest', 'test', 'default', 'changeme', 'welcome', 'letmein',
  'qwerty', 'qwertyuiop', 'asdfgh', 'asdfghjkl', 'zxcvbnm', 'qazwsx', '1qaz2wsx', 'abc', 'abcd', 'abcdef', 'abcdefgh', 'abc123',
  'iloveyou', 'monkey', 'dragon', 'master', 'sunshine', 'princess', 'football', 'superman', 'trustno1', 'woaini', 'woaini1314', '5201314',
  '12345678', '123456789', '1234567890', '11111111', '00000000', '88888888', '66666666', '87654321', 'aaaaaaaa',
  'yunying', 'hospital', 'doctor', 'dicom', 'pacs', 'yiyuan', 'huanying',
];

function normalized(text: string): string {
  const map: Record<string, string> = { '0': 'o', '1': 'i', '3': 'e', '4': 'a', '@': 'a', '5': 's', $: 's' };
  return text.toLowerCase().replace(/[0134@5$]/g, (c) => map[c]!);
}

const withoutTrailing = (text: string): string => text.replace(/[^A-Za-z]+$/, '');

const COMMON = new Set(COMMON_PASSWORDS.flatMap((word) => [normalized(word), normalized(withoutTrailing(word))]).filter(Boolean));

/** The rule a password breaks and why, or undefined. 等保三级: length, three of four character classes, not the account name, not a common password. */
export function passwordProblem(password: string, username: string): { rule: PasswordRule; message: string } | undefined {
  if (password.length < MIN_PASSWORD_LENGTH) return { rule: 'length', message: `a password needs at least ${MIN_PASSWORD_LENGTH} characters` };
  if (password.length > MAX_PASSWORD_LENGTH) return { rule: 'length', message: `a password has at most ${MAX_PASSWORD_LENGTH} characters` };
  const classes = [/[A-Z]/, /[a-z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((pattern) => pattern.test(password)).length;
  if (classes < 3) return { rule: 'classes', message: 'a password needs at least three of: upper-case letters, lower-case letters, digits, symbols' };
  const name = username.toLowerCase();
  if (name.length >= 3 && (password.toLowerCase().includes(name) || normalized(password).includes(normalized(name)))) return { rule: 'username', message: 'the password must not contain the user name' };
  if (COMMON.has(normalized(password)) || COMMON.has(normalized(withoutTrailing(password)))) return { rule: 'common', message: 'the password is too common; choose another' };
  return undefined;
}

/** 400 WEAK_PASSWORD naming the rule broken (details.rule), or nothing. */
export function requireStrongPassword(password: string, username: string): void {
  const problem = passwordProblem(password, username);
  if (!problem) return;
  const error = badRequest('WEAK_PASSWORD', problem.message);
  error.details = { rule: problem.rule, minLength: MIN_PASSWORD_LENGTH };
  throw error;
}

/** A random password that satisfies the policy (the CLI prints it once). */
export function generatePassword(username: string): string {
  const symbols = '-_.!#%+';
  for (;;) {
    const base = randomBytes(12).toString('base64url');
    const candidate = `${base}${symbols[randomInt(symbols.length)]}${randomInt(10)}`;
    if (!passwordProblem(candidate, username)) return candidate;
  }
}
