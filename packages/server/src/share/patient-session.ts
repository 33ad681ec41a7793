import { createHmac, timingSafeEqual } from 'node:crypto';
import type { AuditRecorder } from '../access/audit-event.ts';
import { AttemptThrottle, type ThrottleRule } from '../access/attempt-throttle.ts';
import { verifyPassword } from '../access/passwords.ts';
import type { AccessStore } from '../store/access-store.ts';
import { holderActor, linkHolderCaller, ShareRefusal, statusOf, TOKEN_PATTERN, type LiveLink, type ShareOptions, type ShareOrigin } from './share-model.ts';
import type { ShareLinkRow, ShareStore } from '../store/share-store.ts';
import type { ShareTrail } from './share-trail.ts';

export interface PatientSessionDependencies {
  store: Pick<ShareStore, 'findByToken' | 'lastAccessAt' | 'countAccesses'>;
  accessStore: AccessStore;
  audit: AuditRecorder;
  trail: ShareTrail;
}

/**
 * The patient's side of the door: a token opens a live link or a refusal page; a link with an
 * access code needs the code once per browser, checked under the throttle, and the unlocked
 * browser then holds a cookie that any process can verify without a session table.
 */
export class PatientSession {
  private readonly deps: PatientSessionDependencies;
  readonly options: ShareOptions;
  private attemptThrottle: AttemptThrottle | undefined;

  constructor(deps: PatientSessionDependencies, options: ShareOptions) {
    this.deps = deps;
    this.options = options;
  }

  /** The link of a token if usable now; otherwise a refusal the routes turn into a page. */
  async openLink(token: string): Promise<LiveLink> {
    if (!TOKEN_PATTERN.test(token)) throw new ShareRefusal('SHARE_NOT_FOUND', 'no such link');
    const found = await this.deps.store.findByToken(token);
    if (!found) throw new ShareRefusal('SHARE_NOT_FOUND', 'no such link');
    // Deleting the study revoked the link; should a study be filed again under its UID, the
    // link is still not that study's (it is bound to the study row, not to the UID).
    if (found.studyGone) throw new ShareRefusal('SHARE_REVOKED', 'this link was withdrawn');
    for (const row of [found.link, found.parent]) {
      if (!row) continue;
      const status = statusOf(row);
      if (status === 'revoked') throw new ShareRefusal('SHARE_REVOKED', 'this link was withdrawn');
      if (status === 'expired') throw new ShareRefusal('SHARE_EXPIRED', 'this link has expired');
    }
    return found;
  }

  needsCode(live: LiveLink): boolean {
    return live.link.access_code_hash !== null;
  }

  /** True when the browser may see the link's content (no code, or an unlocked session). */
  hasAccess(live: LiveLink, cookie: string | undefined): boolean {
    const hash = live.link.access_code_hash;
    if (hash === null) return true;
    if (!cookie) return false;
    const match = /^(\d{10,13})\.([A-Za-z0-9_-]{43})$/.exec(cookie);
    if (!match) return false;
    const expires = Number(match[1]);
    if (!(expires > Date.now())) return false;
    const expected = Buffer.from(sessionMac(hash, live.link.id, expires));
    const given = Buffer.from(match[2]!);
    return expected.length === given.length && timingSafeEqual(expected, given);
  }

  /**
   * Checks a code under the throttle; on success the cookie value and its lifetime. The
   * attempt is reserved per link and per client address in the database before the code is
   * verified (access/attempt-throttle.ts): parallel guesses test no more codes than the limit.
   */
  async unlock(live: LiveLink, code: string, origin: ShareOrigin): Promise<{ cookie: string; maxAgeSeconds: number }> {
    const { link } = live;
    const codeHash = link.access_code_hash;
    // A link without a code needs no session: the routes never set a cookie for it.
    if (codeHash === null) return { cookie: '', maxAgeSeconds: 0 };
    const rules: ThrottleRule[] = [
      { key: `share:${link.id}`, limit: this.options.maxFailuresPerLink, maxInFlight: 2, onSuccess: 'clear' },
      { key: `share-ip:${origin.remoteAddress ?? 'unknown'}`, limit: this.options.maxFailuresPerClient, maxInFlight: 8, onSuccess: 'release' },
    ];
    await this.refuseIfCodeExhausted(link);
    const valid = await this.codeThrottle.run(rules, shareThrottled, async () => /^[0-9]{4,6}$/.test(code) && (await verifyPassword(code, codeHash)));
    const caller = linkHolderCaller(link, origin);
    const actor = holderActor(link);
    if (!valid) {
      await this.deps.trail.recordAccess(live, 'code-failed', origin);
      await this.deps.audit.record({ action: 'share.code-failed', outcome: 'failure', caller, objectType: 'share', objectId: link.id, patientId: await this.deps.trail.patientIdOf(link.study_instance_uid), details: { actor } });
      // The failure that reaches a limit already answers 429, so the page shows the wait.
      for (const rule of rules) {
        const { attempts, retryAfterSeconds } = await this.codeThrottle.attemptsOf(rule.key);
        if (attempts >= rule.limit) throw shareThrottled(retryAfterSeconds);
      }
      await this.refuseIfCodeExhausted(link);
      throw new ShareRefusal('SHARE_CODE_WRONG', 'wrong access code');
    }
    await this.deps.trail.recordAccess(live, 'unlocked', origin);
    await this.deps.audit.record({ action: 'share.unlocked', caller, objectType: 'share', objectId: link.id, patientId: await this.deps.trail.patientIdOf(link.study_instance_uid), details: { actor } });
    const expires = Date.now() + this.options.sessionMinutes * 60_000;
    return { cookie: `${expires}.${sessionMac(codeHash, link.id, expires)}`, maxAgeSeconds: this.options.sessionMinutes * 60 };
  }

  /** Attempts per link and client, in the database, over the options' window (made on first use: tests adjust options first). */
  private get codeThrottle(): AttemptThrottle {
    this.attemptThrottle ??= new AttemptThrottle(this.deps.accessStore, this.options.throttleWindowSeconds * 1000);
    return this.attemptThrottle;
  }

  /**
   * The lifetime cap of an issued code. Counted, not reserved: the per-link reservation
   * already keeps parallel guesses to a handful, so the cap is exceeded by a few at most.
   */
  private async refuseIfCodeExhausted(link: ShareLinkRow): Promise<void> {
    const issuedAt = (await this.deps.store.lastAccessAt(link.id, 'code-issued')) ?? link.created_at;
    if ((await this.deps.store.countAccesses(link.id, 'code-failed', issuedAt)) >= this.options.maxFailuresPerCode) {
      throw new ShareRefusal('SHARE_LOCKED', 'too many wrong codes for this link; ask the hospital for a new code');
    }
  }
}

const shareThrottled = (retryAfterSeconds: number): ShareRefusal =>
  new ShareRefusal('SHARE_THROTTLED', `too many wrong codes; try again in ${retryAfterSeconds} s`, { retryAfterSeconds });

function sessionMac(codeHash: string, linkId: string, expires: number): string {
  return createHmac('sha256', `yunying-share-session\u0000${codeHash}`).update(`${linkId}.${expires}`).digest('base64url');
}
