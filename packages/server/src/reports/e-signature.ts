/**
 * The electronic signature of a signing (电子签名, issue 14 item 6): the signer proves who
 * they are at the moment of signing, with their login password or an optional signing PIN
 * they set themselves (hashed like a password, access/passwords.ts). Checked under the
 * login throttle's machinery (access/attempt-throttle.ts): a password attempt counts against
 * the same account key as a login, so a stolen session is no extra password oracle; a PIN
 * has its own key, as short secrets need their own small limit. A wrong answer is audited
 * and refused with SIGNATURE_REJECTED (403, not 401: the session stays), too many with
 * SIGNATURE_THROTTLED (429). What was proven, and how, is stored with the signed version
 * (report_signatures, store/review-store.ts) by the report service.
 */
import { createHash } from 'node:crypto';
import { AttemptThrottle, type ThrottleRule } from '../access/attempt-throttle.ts';
import type { AuditRecorder } from '../access/audit-event.ts';
import type { Caller } from '../access/caller.ts';
import { dummyPasswordHash, hashPassword, verifyPassword } from '../access/passwords.ts';
import { badRequest, conflict, YunyingError } from '../errors.ts';
import type { AccessStore } from '../store/access-store.ts';
import { reviewStore, type ReportSignatureTable, type ReviewStore } from '../store/review-store.ts';
import type { StoreOpener } from '../store/store-opener.ts';
import type { TransactionPorts, UnitOfWork } from '../store/unit-of-work.ts';

export type SigningMethod = 'password' | 'pin';

/** What the signer typed in the signing dialog: exactly one of the two. */
export interface SigningCredential {
  password?: string;
  pin?: string;
}

export interface ESignatureOptions {
  /** failed signature attempts per account (password) or per PIN within the window [5, as logins] */
  maxFailuresPerAccount?: number;
  /** failed attempts per client address within the window [30, as logins] */
  maxFailuresPerClient?: number;
  windowSeconds?: number;
}

export interface ESignatureDependencies {
  access: AccessStore;
  stores: { open<T, Tables>(opener: StoreOpener<T, Tables>): T };
  unitOfWork: UnitOfWork;
  audit: AuditRecorder;
}

/** A signing PIN: six digits, not one digit repeated and not a run (123456, 654321). */
export function signingPinProblem(pin: string): string | undefined {
  if (!/^[0-9]{6}$/.test(pin)) return 'a signing PIN is exactly 6 digits';
  if (/^(\d)\1{5}$/.test(pin)) return 'a signing PIN must not repeat one digit';
  const digits = [...pin].map(Number);
  const steps = new Set(digits.slice(1).map((digit, n) => digit - digits[n]!));
  if (steps.size === 1 && (steps.has(1) || steps.has(-1))) return 'a signing PIN must not be a run of digits';
  return undefined;
}

/** How long a verified credential is remembered in this process (as HTTP Basic's, access-service.ts). */
const REMEMBER_MS = 5 * 60 * 1000;

export class ESignature {
  /**
   * Credentials verified lately, by a hash of user, method, secret and the stored hash (so a
   * new password or PIN takes effect at once): a reviewer signing a batch types the password
   * each time, and the server does not hash it again each time, nor count it against the
   * throttle's slots. Per process, never shared.
   */
  private readonly verified = new Map<string, number>();
  /** Checks in progress by the same key: parallel signatures with one credential share one verification. */
  private readonly inFlight = new Map<string, Promise<boolean>>();
  private readonly deps: ESignatureDependencies;
  private readonly throttle: AttemptThrottle;
  private readonly perAccount: number;
  private readonly perClient: number;

  constructor(deps: ESignatureDependencies, options: ESignatureOptions = {}) {
    this.deps = deps;
    this.perAccount = options.maxFailuresPerAccount ?? 5;
    this.perClient = options.maxFailuresPerClient ?? 30;
    this.throttle = new AttemptThrottle(deps.access, (options.windowSeconds ?? 15 * 60) * 1000);
  }

  /**
   * Proves the caller with the credential (throttled, every failure audited) and answers the
   * method used; throws SIGNATURE_REQUIRED, SIGNING_PIN_NOT_SET, SIGNATURE_REJECTED or
   * SIGNATURE_THROTTLED otherwise. `context` goes into the failure's audit record.
   */
  async verify(caller: Caller, credential: SigningCredential, context: Record<string, unknown>): Promise<SigningMethod> {
    const method = methodOf(credential);
    if (caller.kind !== 'user') throw new YunyingError('SIGNATURE_REJECTED', 'only a user signs');
    let stored: string | undefined;
    if (method === 'pin') {
      stored = (await this.reviews().signingPin(caller.name))?.pin_hash;
      if (!stored) throw conflict('SIGNING_PIN_NOT_SET', 'no signing PIN is set for this user; sign with the password');
    } else {
      const user = await this.deps.access.findUserByName(caller.name);
      stored = user && user.enabled === 1 ? user.password_hash : undefined;
    }
    const secret = method === 'pin' ? credential.pin! : credential.password!;
    const key = createHash('sha256').update(`${caller.name}\u0000${method}\u0000${secret}\u0000${stored ?? ''}`).digest('hex');
    if (stored && (this.verified.get(key) ?? 0) > Date.now()) return method;
    let flight = this.inFlight.get(key);
    if (!flight) {
      flight = this.check(caller, method, secret, stored, context).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, flight);
    }
    if (!(await flight)) throw new YunyingError('SIGNATURE_REJECTED', `the ${method === 'pin' ? 'signing PIN' : 'password'} is wrong; nothing was signed`);
    if (this.verified.size >= 1000) this.verified.clear();
    this.verified.set(key, Date.now() + REMEMBER_MS);
    return method;
  }

  /** One verification under the throttle; a wrong answer is audited (once, however many waited for it). */
  private async check(caller: Caller, method: SigningMethod, secret: string, stored: string | undefined, context: Record<string, unknown>): Promise<boolean> {
    const rules: ThrottleRule[] = [
      // the password counts against the login's account key (access-service.ts checkCredentials)
      { key: method === 'password' ? `user:${caller.name.toLowerCase()}` : `sign-pin:${caller.name.toLowerCase()}`, limit: this.perAccount, maxInFlight: 4, onSuccess: 'clear' },
      { key: `ip:${caller.remoteAddress ?? 'unknown'}`, limit: this.perClient, maxInFlight: 8, onSuccess: 'release' },
    ];
    let right: boolean;
    try {
      // Same work without a usable password hash (a disabled account): timing tells nothing.
      right = await this.throttle.run(rules, signatureThrottled, async () => (await verifyPassword(secret, stored ?? (await dummyPasswordHash()))) && stored !== undefined);
    } catch (error) {
      if (error instanceof YunyingError && error.code === 'SIGNATURE_THROTTLED') await this.recordFailure(caller, method, 'throttled', context);
      throw error;
    }
    if (!right) await this.recordFailure(caller, method, method === 'pin' ? 'wrong PIN' : 'wrong password', context);
    return right;
  }

  /** Whether the caller has a signing PIN, and since when. */
  async pinStatus(caller: Caller): Promise<{ set: boolean; updatedAt: string | null }> {
    const row = caller.kind === 'user' ? await this.reviews().signingPin(caller.name) : undefined;
    return { set: Boolean(row), updatedAt: row?.updated_at ?? null };
  }

  /**
   * Sets (or with `pin` null removes) the caller's own signing PIN, after the password was
   * proven under the same throttle as a signature: a session alone cannot set a PIN to sign
   * with. Audited without the PIN.
   */
  async setPin(caller: Caller, currentPassword: string, pin: string | null): Promise<{ set: boolean; updatedAt: string | null }> {
    if (caller.kind !== 'user') throw badRequest('NOT_A_USER', 'only users have a signing PIN');
    if (pin !== null) {
      const problem = signingPinProblem(pin);
      if (problem) throw badRequest('WEAK_SIGNING_PIN', problem);
    }
    await this.verify(caller, { password: currentPassword }, { signingPin: pin === null ? 'remove' : 'set' });
    const now = new Date().toISOString();
    const pinHash = pin === null ? undefined : await hashPassword(pin);
    await this.deps.unitOfWork.run(async (tx) => {
      const store = tx.open(reviewStore);
      if (pinHash === undefined) {
        if (await store.removeSigningPin(caller.name)) tx.audit.record({ action: 'user.signing-pin.removed', caller, objectType: 'user', objectId: caller.name });
      } else {
        await store.putSigningPin({ username: caller.name, pin_hash: pinHash, updated_at: now });
        tx.audit.record({ action: 'user.signing-pin.set', caller, objectType: 'user', objectId: caller.name });
      }
    });
    return pinHash === undefined ? { set: false, updatedAt: null } : { set: true, updatedAt: now };
  }

  /** The signed version's signature row, in the signing's transaction. */
  async recordIn(tx: Pick<TransactionPorts, 'open'>, row: ReportSignatureTable): Promise<void> {
    await tx.open(reviewStore).insertSignature(row);
  }

  async signaturesOf(reportId: string): Promise<ReportSignatureTable[]> {
    return this.reviews().signaturesOf(reportId);
  }

  private reviews(): ReviewStore {
    return this.deps.stores.open(reviewStore);
  }

  private async recordFailure(caller: Caller, method: SigningMethod, reason: string, context: Record<string, unknown>): Promise<void> {
    await this.deps.audit.record({ action: 'report.signature-failed', outcome: 'failure', caller, objectType: 'user', objectId: caller.name, details: { method, reason, ...context } });
  }
}

function methodOf(credential: SigningCredential): SigningMethod {
  const hasPassword = typeof credential.password === 'string' && credential.password.length > 0;
  const hasPin = typeof credential.pin === 'string' && credential.pin.length > 0;
  if (hasPassword === hasPin) throw badRequest('SIGNATURE_REQUIRED', 'give the password or the signing PIN (one of them) to sign');
  return hasPin ? 'pin' : 'password';
}

const signatureThrottled = (retryAfterSeconds: number): YunyingError => new YunyingError('SIGNATURE_THROTTLED', `too many failed signature attempts; try again in ${retryAfterSeconds} s`, { retryAfterSeconds });
