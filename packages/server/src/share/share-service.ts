/**
 * Cloud film (云胶片): links that give a patient, and the doctors they pass it on to, one
 * study's report and images on a phone. See share/README.md for the model; in short:
 *
 * - A link is a random token of 192 bits (base64url, 32 characters) in `/s/{token}`. The
 *   token is the only thing in its URLs that names the patient's data.
 * - An optional 4–6 digit access code, hashed with a random salt (scrypt, access/passwords.ts).
 *   A 4–6 digit code has at most a million values: anyone who obtained the hash could try
 *   them all offline in seconds, salt or not. The code's protection is therefore online only:
 *   the throttle (per link, per client address, and a lifetime cap per issued code) and the
 *   hash staying inside the database. The 192-bit token is what cannot be guessed.
 * - Every state (expiry, revocation, code, counters) lives in the database: a link revoked in
 *   one server process is dead in all of them at the next request. Nothing is cached.
 * - An unlocked browser holds a cookie `${expiry}.${HMAC}` keyed by the link's stored code
 *   hash, so it verifies in any process without a session table, and a new code (or a
 *   revocation, checked on every request anyway) ends it.
 */
import { createHmac, randomBytes, randomInt, randomUUID, timingSafeEqual } from 'node:crypto';
import { Readable } from 'node:stream';
import QRCode from 'qrcode';
import yazl from 'yazl';
import { parseDicom, type ParsedDicom } from '@yunying/dicom';
import type { Logger } from 'pino';
import type { AuditRecorder } from '../access/audit-event.ts';
import { hasPermission, requirePermission, studyScopeOf, type Caller } from '../access/caller.ts';
import { AttemptThrottle, type ThrottleRule } from '../access/attempt-throttle.ts';
import { hashPassword, verifyPassword } from '../access/passwords.ts';
import { renderFrame, type RenderWindow } from '../dicomweb/render.ts';
import { badRequest, DIMSE_STATUS, forbidden, notFound, YunyingError } from '../errors.ts';
import type { AccessStore } from '../store/access-store.ts';
import type { BlobStore } from '../store/blob-store.ts';
import type { IndexStore, InstanceRow } from '../store/index-store.ts';
import { isPlausiblePhone, type SmsSender } from './sms-sender.ts';
import type { SeriesSummary, ShareLinkRow, ShareStore, SignedReportText } from './share-store.ts';

export interface ShareOptions {
  /** where patients reach the server, e.g. https://film.example.org (no trailing slash); printed in QR codes */
  publicBaseUrl: string;
  /** lifetime of a patient link unless the creator says otherwise [30] */
  defaultTtlDays: number;
  /** longest lifetime staff may give a link [365] */
  maxTtlDays: number;
  /** ensurePatientLink creates a link when a report is signed [true]; false: it only returns one made on demand */
  autoCreateOnSign: boolean;
  /** longest lifetime of an onward link made by a patient for a doctor [7], never beyond the patient's link */
  onwardMaxDays: number;
  /** lifetime of an unlocked browser session [60] */
  sessionMinutes: number;
  /** wrong codes per link within the window before the link refuses codes [5] */
  maxFailuresPerLink: number;
  /** wrong codes per client address within the window, across links [20] */
  maxFailuresPerClient: number;
  throttleWindowSeconds: number;
  /** wrong codes since the code was issued after which the link needs a new code from staff [50] */
  maxFailuresPerCode: number;
  /** the frame budget of rendered images, bytes [DEFAULT_MAX_RENDER_FRAME_BYTES of dicomweb/render.ts] */
  maxRenderFrameBytes?: number;
}

/** Memory for parsed instances kept between image requests of the cloud film (per process). */
export const PARSED_CACHE_BYTES = 64 * 1024 ** 2;
/** Memory for rendered JPEGs (previews and small fidelity) kept per process. */
const RENDERED_CACHE_BYTES = 32 * 1024 ** 2;

export const DEFAULT_SHARE_OPTIONS: Omit<ShareOptions, 'publicBaseUrl'> = {
  defaultTtlDays: 30,
  maxTtlDays: 365,
  autoCreateOnSign: true,
  onwardMaxDays: 7,
  sessionMinutes: 60,
  maxFailuresPerLink: 5,
  maxFailuresPerClient: 20,
  throttleWindowSeconds: 15 * 60,
  maxFailuresPerCode: 50,
};

export interface ShareDependencies {
  store: ShareStore;
  index: IndexStore;
  blobs: BlobStore;
  accessStore: AccessStore;
  audit: AuditRecorder;
  sms: SmsSender;
  logger?: Pick<Logger, 'warn' | 'info'>;
}

export type LinkStatus = 'live' | 'expired' | 'revoked';

/** A link as staff and the patient see it. */
export interface ShareLinkView {
  id: string;
  kind: 'patient' | 'onward';
  url: string;
  studyInstanceUid: string;
  reportId: string | null;
  institutionId: string;
  parentId: string | null;
  recipient: string | null;
  hasAccessCode: boolean;
  createdBy: string;
  createdAt: string;
  expiresAt: string;
  revokedAt: string | null;
  views: number;
  status: LinkStatus;
}

export interface CreatedShareLink extends ShareLinkView {
  /** the access code in clear, only in the answer that created it (or issued a new one) */
  accessCode?: string;
  /** true when the code (and link) went out by SMS */
  smsSent?: boolean;
}

export interface CreateLinkInput {
  studyInstanceUid: string;
  reportId?: string;
  expiresInDays?: number;
  /** default true: a code is required to open the link */
  accessCode?: boolean;
  /** 4..6 digits [6] */
  codeLength?: number;
  /** send link and code by SMS to this number; the number is not stored */
  phone?: string;
}

/** Where a patient-side request came from. */
export interface ShareOrigin {
  remoteAddress?: string;
  userAgent?: string;
}

/** A link that may be used right now (live, its parent live too). */
export interface LiveLink {
  link: ShareLinkRow;
  parent?: ShareLinkRow;
}

export interface PageSeries {
  uid: string;
  number: number | null;
  modality: string | null;
  description: string | null;
  /** [sopInstanceUid, frames] in slice order */
  images: Array<[string, number]>;
}

export interface PatientPageData {
  link: { kind: 'patient' | 'onward'; expiresAt: string; recipient: string | null; mayShare: boolean };
  institution: string;
  exam: { description: string | null; modalities: string[]; date: string | null; accessionNumber: string | null };
  patient: { name: string | null; sex: string | null };
  report: (Omit<SignedReportText, 'readingInstitutionId' | 'id' | 'version'> & { readingInstitution: string; addenda: Array<{ text: string; at: string }> }) | null;
  series: PageSeries[];
  /** CT: window presets [label zh, label en, center, width] */
  windows: Array<[string, string, number, number]>;
}

export const TOKEN_PATTERN = /^[A-Za-z0-9_-]{32}$/;
export const SHARE_COOKIE = 'yy_film';

const CT_WINDOWS: Array<[string, string, number, number]> = [
  ['软组织', 'Soft tissue', 40, 400],
  ['肺窗', 'Lung', -600, 1500],
  ['骨窗', 'Bone', 400, 1800],
  ['脑窗', 'Brain', 40, 80],
];

/** A patient-side refusal: the routes show it as a page (410, 401, 429, 404). */
export class ShareRefusal extends YunyingError {
  constructor(
    code: 'SHARE_NOT_FOUND' | 'SHARE_EXPIRED' | 'SHARE_REVOKED' | 'SHARE_LOCKED' | 'SHARE_CODE_REQUIRED' | 'SHARE_CODE_WRONG' | 'SHARE_THROTTLED',
    message: string,
    httpStatus: number,
    retryAfterSeconds?: number,
  ) {
    super(code, message, httpStatus, DIMSE_STATUS.NOT_AUTHORIZED, retryAfterSeconds);
  }
}

/**
 * Who the audit trail names for a link holder. The patient (or the doctor an onward link is
 * for) is not a user: the actor is `share:<link id>` of kind user with no visible
 * institutions, acting for the issuing institution over the REST interface. The Role type
 * has no patient role, so actor_role reads `clinician`; every record also carries
 * details.actor = 'patient' | 'onward-recipient'. Search the trail by actor name `share:…`.
 */
export function linkHolderCaller(link: ShareLinkRow, origin: ShareOrigin): Caller {
  return { kind: 'user', name: `share:${link.id}`, institutionId: link.institution_id, role: 'clinician', visibleInstitutionIds: [], via: 'rest', remoteAddress: origin.remoteAddress };
}

export class ShareService {
  /** parsed instances by blob key, bounded by the bytes of their files (the parse keeps views into them) */
  private readonly parsedCache = new LruCache<{ parsed: ParsedDicom; bytes: number }>(PARSED_CACHE_BYTES, (entry) => entry.bytes);
  private readonly renderedCache = new LruCache<Buffer>(RENDERED_CACHE_BYTES, (jpeg) => jpeg.length);
  /** image views are recorded once per link, series and fidelity every 10 minutes per process */
  private readonly viewsRecorded = new LruCache<number>(5000);
  private attemptThrottle: AttemptThrottle | undefined;

  /** the SMS sender in use (tests read what LogSmsSender recorded) */
  get smsSender(): SmsSender {
    return this.deps.sms;
  }

  constructor(
    private readonly deps: ShareDependencies,
    readonly options: ShareOptions,
  ) {}

  urlOf(token: string): string {
    return `${this.options.publicBaseUrl}/s/${token}`;
  }

  // Staff side

  async createLink(caller: Caller, input: CreateLinkInput): Promise<CreatedShareLink> {
    const study = await this.requireIssuableStudy(caller, input.studyInstanceUid);
    const days = input.expiresInDays ?? this.options.defaultTtlDays;
    if (!Number.isInteger(days) || days < 1 || days > this.options.maxTtlDays) throw badRequest('INVALID_EXPIRY', `expiresInDays must be 1..${this.options.maxTtlDays}`);
    if (input.phone !== undefined && !isPlausiblePhone(input.phone)) throw badRequest('INVALID_PHONE', 'the phone number is not a mobile number');
    if (input.reportId) {
      const reports = await this.deps.store.signedReportsOfStudy(input.studyInstanceUid);
      if (!reports.some((report) => report.id === input.reportId)) throw badRequest('INVALID_REPORT', 'the report is not a signed report of this study');
    }
    const withCode = input.accessCode ?? true;
    const code = withCode ? newAccessCode(input.codeLength ?? 6) : undefined;
    const row = await this.insertLink({
      kind: 'patient',
      studyInstanceUid: input.studyInstanceUid,
      reportId: input.reportId ?? null,
      institutionId: study.institution_id,
      parentId: null,
      recipient: null,
      codeHash: code ? await hashPassword(code) : null,
      createdBy: caller.name,
      expiresAt: new Date(Date.now() + days * 86_400_000).toISOString(),
    });
    let smsSent: boolean | undefined;
    if (input.phone) smsSent = await this.sendSms(input.phone, row, code);
    await this.deps.audit.record({ action: 'study.shared', caller, objectType: 'share', objectId: row.id, patientId: study.patient_id ?? undefined, details: { studyInstanceUid: row.study_instance_uid, kind: 'patient', expiresAt: row.expires_at, accessCode: Boolean(code), sms: Boolean(smsSent) } });
    return { ...this.view(row), ...(code ? { accessCode: code } : {}), ...(smsSent !== undefined ? { smsSent } : {}) };
  }

  async listLinks(caller: Caller, studyInstanceUid: string): Promise<ShareLinkView[]> {
    await this.requireIssuableStudy(caller, studyInstanceUid);
    return (await this.deps.store.linksOfStudy(studyInstanceUid)).map((row) => this.view(row));
  }

  async getLink(caller: Caller, id: string): Promise<ShareLinkView> {
    return this.view(await this.requireManagedLink(caller, id));
  }

  /** Ends the link (and its onward links) at once, in every process. */
  async revokeLink(caller: Caller, id: string): Promise<ShareLinkView> {
    const row = await this.requireManagedLink(caller, id);
    await this.deps.store.revoke(row.id, new Date().toISOString());
    await this.deps.audit.record({ action: 'share.revoked', caller, objectType: 'share', objectId: row.id, patientId: await this.patientIdOf(row.study_instance_uid), details: { studyInstanceUid: row.study_instance_uid, kind: row.kind } });
    return this.view((await this.deps.store.findById(row.id))!);
  }

  /** A new code (the old one and every unlocked browser stop working); optionally by SMS. */
  async issueAccessCode(caller: Caller, id: string, input: { codeLength?: number; phone?: string }): Promise<CreatedShareLink> {
    const row = await this.requireManagedLink(caller, id);
    if (statusOf(row) !== 'live') throw new YunyingError('SHARE_NOT_LIVE', 'the link has expired or was revoked; create a new one', 409);
    if (input.phone !== undefined && !isPlausiblePhone(input.phone)) throw badRequest('INVALID_PHONE', 'the phone number is not a mobile number');
    const code = newAccessCode(input.codeLength ?? 6);
    await this.deps.store.setAccessCodeHash(row.id, await hashPassword(code));
    await this.deps.store.recordAccess({ link_id: row.id, at: new Date().toISOString(), action: 'code-issued', remote_address: null, user_agent: null });
    await this.deps.accessStore.clearAttempts(`share:${row.id}`);
    const fresh = (await this.deps.store.findById(row.id))!;
    const smsSent = input.phone ? await this.sendSms(input.phone, fresh, code) : undefined;
    await this.deps.audit.record({ action: 'share.code-issued', caller, objectType: 'share', objectId: row.id, patientId: await this.patientIdOf(row.study_instance_uid), details: { sms: Boolean(smsSent) } });
    return { ...this.view(fresh), accessCode: code, ...(smsSent !== undefined ? { smsSent } : {}) };
  }

  async qrPng(caller: Caller, id: string, size = 512): Promise<Buffer> {
    const row = await this.requireManagedLink(caller, id);
    return QRCode.toBuffer(this.urlOf(row.token), { type: 'png', errorCorrectionLevel: 'M', margin: 2, width: Math.min(Math.max(size, 128), 2048) });
  }

  async qrSvg(caller: Caller, id: string): Promise<string> {
    const row = await this.requireManagedLink(caller, id);
    return QRCode.toString(this.urlOf(row.token), { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
  }

  /**
   * For report delivery (ReportDelivery.documentFor): the live patient link of a signed
   * report, created on first call when automatic links are on (YUNYING_SHARE_AUTO). It has
   * no access code: the 192-bit token in the printed QR code is the secret, and the paper is
   * the patient's. Staff add a code (and send it by SMS) with POST
   * /api/v1/share-links/{id}/access-code. Undefined when automatic links are off and staff
   * made none. Repeated calls (every PDF print) return the same link.
   */
  ensurePatientLink = async (studyInstanceUid: string, reportId: string, institutionId: string): Promise<ShareLinkView | undefined> => {
    const existing = await this.deps.store.livePatientLinkOfReport(reportId, new Date().toISOString());
    if (existing) return this.view(existing);
    if (!this.options.autoCreateOnSign) return undefined;
    const row = await this.insertLink({
      kind: 'patient',
      studyInstanceUid,
      reportId,
      institutionId,
      parentId: null,
      recipient: null,
      codeHash: null,
      createdBy: `report:${reportId}`,
      expiresAt: new Date(Date.now() + this.options.defaultTtlDays * 86_400_000).toISOString(),
    });
    const caller: Caller = { kind: 'system', name: `report:${reportId}`, institutionId, role: 'administrator', visibleInstitutionIds: [institutionId], via: 'system' };
    await this.deps.audit.record({ action: 'study.shared', caller, objectType: 'share', objectId: row.id, patientId: await this.patientIdOf(studyInstanceUid), details: { studyInstanceUid, kind: 'patient', reportId, expiresAt: row.expires_at, automatic: true } });
    return this.view(row);
  };

  async accessesForStaff(caller: Caller, id: string): Promise<Array<{ at: string; action: string; linkId: string; recipient: string | null; remoteAddress: string | null }>> {
    const row = await this.requireManagedLink(caller, id);
    const onward = await this.deps.store.onwardLinksOf(row.id);
    const recipients = new Map([row, ...onward].map((link) => [link.id, link.recipient]));
    return (await this.deps.store.accessesOf([...recipients.keys()])).map((a) => ({ at: a.at, action: a.action, linkId: a.link_id, recipient: recipients.get(a.link_id) ?? null, remoteAddress: a.remote_address }));
  }

  // Patient side

  /** The link of a token if usable now; otherwise a refusal the routes turn into a page. */
  async openLink(token: string): Promise<LiveLink> {
    if (!TOKEN_PATTERN.test(token)) throw new ShareRefusal('SHARE_NOT_FOUND', 'no such link', 404);
    const found = await this.deps.store.findByToken(token);
    if (!found) throw new ShareRefusal('SHARE_NOT_FOUND', 'no such link', 404);
    // Deleting the study revoked the link; should a study be filed again under its UID, the
    // link is still not that study's (it is bound to the study row, not to the UID).
    if (found.studyGone) throw new ShareRefusal('SHARE_REVOKED', 'this link was withdrawn', 410);
    for (const row of [found.link, found.parent]) {
      if (!row) continue;
      const status = statusOf(row);
      if (status === 'revoked') throw new ShareRefusal('SHARE_REVOKED', 'this link was withdrawn', 410);
      if (status === 'expired') throw new ShareRefusal('SHARE_EXPIRED', 'this link has expired', 410);
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
    const actor = link.kind === 'onward' ? 'onward-recipient' : 'patient';
    if (!valid) {
      await this.recordAccess(live, 'code-failed', origin);
      await this.deps.audit.record({ action: 'share.code-failed', outcome: 'failure', caller, objectType: 'share', objectId: link.id, patientId: await this.patientIdOf(link.study_instance_uid), details: { actor } });
      // The failure that reaches a limit already answers 429, so the page shows the wait.
      for (const rule of rules) {
        const { attempts, retryAfterSeconds } = await this.codeThrottle.attemptsOf(rule.key);
        if (attempts >= rule.limit) throw shareThrottled(retryAfterSeconds);
      }
      await this.refuseIfCodeExhausted(link);
      throw new ShareRefusal('SHARE_CODE_WRONG', 'wrong access code', 401);
    }
    await this.recordAccess(live, 'unlocked', origin);
    await this.deps.audit.record({ action: 'share.unlocked', caller, objectType: 'share', objectId: link.id, patientId: await this.patientIdOf(link.study_instance_uid), details: { actor } });
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
      throw new ShareRefusal('SHARE_LOCKED', 'too many wrong codes for this link; ask the hospital for a new code', 429);
    }
  }

  /** What the page shows; counts a view and records the open. */
  async pageData(live: LiveLink, origin: ShareOrigin): Promise<PatientPageData> {
    const { link } = live;
    const [study, series, instances, reports, institution] = await Promise.all([
      this.deps.index.studyRow(link.study_instance_uid),
      this.deps.store.seriesOfStudy(link.study_instance_uid),
      this.imagesOf(link.study_instance_uid),
      this.deps.store.signedReportsOfStudy(link.study_instance_uid),
      this.deps.store.institutionName(link.institution_id),
    ]);
    if (!study || study.study_key !== link.study_key) throw new ShareRefusal('SHARE_NOT_FOUND', 'the study of this link no longer exists', 410);
    const report = link.report_id ? (reports.find((r) => r.id === link.report_id) ?? reports[0]) : reports[0];
    const modalities = (study.modalities_in_study ?? '').split('\\').filter(Boolean);
    await this.deps.store.countView(link.id);
    await this.recordAccess(live, 'opened', origin);
    await this.deps.audit.record({ action: 'share.opened', caller: linkHolderCaller(link, origin), objectType: 'share', objectId: link.id, patientId: study.patient_id ?? undefined, details: { studyInstanceUid: link.study_instance_uid, actor: link.kind === 'onward' ? 'onward-recipient' : 'patient', ...(link.recipient ? { recipient: link.recipient } : {}) } });
    return {
      link: { kind: link.kind === 'onward' ? 'onward' : 'patient', expiresAt: link.expires_at, recipient: link.recipient, mayShare: link.kind === 'patient' },
      institution: institution ?? study.institution_name ?? link.institution_id,
      exam: { description: study.study_description, modalities, date: study.study_date, accessionNumber: study.accession_number },
      patient: { name: maskName(study.patient_name), sex: study.patient_sex },
      report: report ? { findings: report.findings, impression: report.impression, positive: report.positive, signedAt: report.signedAt, readingInstitution: (await this.deps.store.institutionName(report.readingInstitutionId)) ?? report.readingInstitutionId, addenda: await this.deps.store.addendaOf(report.id) } : null,
      series: pageSeries(series, instances),
      windows: modalities.includes('CT') ? CT_WINDOWS : [],
    };
  }

  /** An image of the link's study, or 404: a UID of any other study or series does not exist here. */
  async findImage(live: LiveLink, seriesInstanceUid: string, sopInstanceUid: string): Promise<InstanceRow> {
    const row = await this.deps.index.findInstance(sopInstanceUid);
    if (!row || row.study_instance_uid !== live.link.study_instance_uid || row.series_instance_uid !== seriesInstanceUid) throw notFound('image');
    return row;
  }

  /** The middle image of a series of the link's study. */
  async representativeImage(live: LiveLink, seriesInstanceUid: string): Promise<InstanceRow> {
    const images = (await this.imagesOf(live.link.study_instance_uid)).filter((row) => row.series_instance_uid === seriesInstanceUid);
    if (images.length === 0) throw notFound('series');
    return images[Math.floor((images.length - 1) / 2)]!;
  }

  /**
   * A rendered JPEG: `small` (512 px, quality 80: the first thing a slow phone gets),
   * `thumbnail` (128 px) or `full` (native size, quality 92). Records the view.
   */
  async renderImage(live: LiveLink, row: InstanceRow, options: { frame: number; fidelity: 'thumbnail' | 'small' | 'full'; window?: RenderWindow }, origin: ShareOrigin): Promise<Buffer> {
    const { frame, fidelity, window } = options;
    const key = `${row.blob_key}|${frame}|${fidelity}|${window ? `${window.center},${window.width}` : ''}`;
    let body = fidelity === 'full' ? undefined : this.renderedCache.get(key);
    if (!body) {
      const parsed = await this.parsed(row);
      const size = fidelity === 'thumbnail' ? 128 : fidelity === 'small' ? 512 : undefined;
      body = (await renderFrame(parsed, { frame, format: 'jpeg', quality: fidelity === 'full' ? 92 : fidelity === 'small' ? 80 : 70, window, maxFrameBytes: this.options.maxRenderFrameBytes, ...(size ? { fit: { width: size, height: size } } : {}) })).body;
      if (fidelity !== 'full') this.renderedCache.set(key, body);
    }
    if (fidelity !== 'thumbnail') await this.recordImageView(live, row.series_instance_uid, fidelity, origin);
    return body;
  }

  private async recordImageView(live: LiveLink, seriesInstanceUid: string, fidelity: string, origin: ShareOrigin): Promise<void> {
    const key = `${live.link.id}|${seriesInstanceUid}|${fidelity}|${origin.remoteAddress ?? ''}`;
    const last = this.viewsRecorded.get(key);
    if (last !== undefined && Date.now() - last < 10 * 60_000) return;
    this.viewsRecorded.set(key, Date.now());
    const action = fidelity === 'full' ? 'viewed-full' : 'viewed-images';
    await this.recordAccess(live, action, origin);
    await this.deps.audit.record({ action: 'share.viewed', caller: linkHolderCaller(live.link, origin), objectType: 'share', objectId: live.link.id, patientId: await this.patientIdOf(live.link.study_instance_uid), details: { studyInstanceUid: live.link.study_instance_uid, seriesInstanceUid, fidelity, actor: live.link.kind === 'onward' ? 'onward-recipient' : 'patient' } });
  }

  /** Records a download (before it starts: whatever is served was recorded). */
  async recordDownload(live: LiveLink, what: 'dicom' | 'jpeg', origin: ShareOrigin, details: Record<string, unknown> = {}): Promise<void> {
    await this.recordAccess(live, what === 'dicom' ? 'downloaded-dicom' : 'downloaded-jpeg', origin);
    await this.deps.audit.record({ action: 'share.downloaded', caller: linkHolderCaller(live.link, origin), objectType: 'share', objectId: live.link.id, patientId: await this.patientIdOf(live.link.study_instance_uid), details: { studyInstanceUid: live.link.study_instance_uid, format: what, ...details, actor: live.link.kind === 'onward' ? 'onward-recipient' : 'patient' } });
  }

  /** The original DICOM files of the study as a streamed zip, byte for byte as stored. */
  async dicomZip(live: LiveLink): Promise<NodeJS.ReadableStream> {
    const rows = await this.deps.index.findInstances({ studyInstanceUids: [live.link.study_instance_uid], scope: {} });
    const zip = new yazl.ZipFile();
    const names = seriesFolderNames(await this.deps.store.seriesOfStudy(live.link.study_instance_uid));
    for (const [n, row] of rows.entries()) {
      const name = `DICOM/${names.get(row.series_instance_uid) ?? 'series'}/${String(n + 1).padStart(5, '0')}.dcm`;
      zip.addReadStreamLazy(name, { size: Number(row.size), compress: true, compressionLevel: 1, mtime: new Date(row.created_at) }, (callback) => {
        this.deps.blobs.get(row.blob_key).then((bytes) => callback(null, Readable.from([bytes])), (error: unknown) => callback(error, Readable.from([])));
      });
    }
    zip.end();
    return zip.outputStream;
  }

  /**
   * Every image of the study rendered at native size (JPEG quality 92), streamed as a zip. A
   * frame that cannot be rendered (FRAME_NOT_DECODABLE, FRAME_TOO_LARGE,
   * RENDERING_NOT_SUPPORTED) is left out, its number skipped, and the zip ends with
   * JPEG/未能转换的图像-not-converted.txt naming each one and why: the DICOM zip has it. Frames
   * are rendered one ahead of the zip writer, so at most two rendered frames are in memory.
   */
  async jpegZip(live: LiveLink): Promise<NodeJS.ReadableStream> {
    const rows = await this.imagesOf(live.link.study_instance_uid);
    const names = seriesFolderNames(await this.deps.store.seriesOfStudy(live.link.study_instance_uid));
    const zip = new yazl.ZipFile();
    const produce = async (): Promise<void> => {
      const leftOut: string[] = [];
      let n = 0;
      for (const row of rows) {
        const frames = Math.max(1, row.number_of_frames ?? 1);
        for (let frame = 1; frame <= frames; frame++) {
          n += 1;
          const name = `JPEG/${names.get(row.series_instance_uid) ?? 'series'}/${String(n).padStart(5, '0')}.jpg`;
          const rendered = await this.renderForZip(row, frame);
          if (typeof rendered === 'string') {
            leftOut.push(`${name}  (series ${row.series_instance_uid}, instance ${row.sop_instance_uid}, frame ${frame}): ${rendered}`);
            continue;
          }
          // wait until the zip writer reaches this entry before rendering the next (back-pressure)
          await new Promise<void>((resolve) => {
            zip.addReadStreamLazy(name, { compress: false, mtime: new Date(row.created_at) }, (callback) => {
              callback(null, Readable.from([rendered]));
              resolve();
            });
          });
        }
      }
      if (leftOut.length > 0) zip.addBuffer(Buffer.from(notConvertedNote(leftOut), 'utf8'), 'JPEG/未能转换的图像-not-converted.txt', { compress: true });
      zip.end();
    };
    produce().catch((error: unknown) => (zip.outputStream as unknown as Readable).destroy(error instanceof Error ? error : new Error(String(error))));
    return zip.outputStream;
  }

  /** The frame as JPEG, or the error code and message when this frame cannot be rendered. */
  private async renderForZip(row: InstanceRow, frame: number): Promise<Buffer | string> {
    const parsed = await this.parsed(row);
    try {
      return (await renderFrame(parsed, { frame, format: 'jpeg', quality: 92, maxFrameBytes: this.options.maxRenderFrameBytes })).body;
    } catch (error) {
      // only a refusal about this frame is skipped; anything else (storage, bugs) fails the download
      if (error instanceof YunyingError && error.httpStatus >= 400 && error.httpStatus < 500) return `${error.code}: ${error.message}`;
      throw error;
    }
  }

  /** A patient makes a time-limited link for another doctor. */
  async createOnward(live: LiveLink, input: { recipient: string; days?: number; accessCode?: boolean }, origin: ShareOrigin): Promise<CreatedShareLink> {
    const { link } = live;
    if (link.kind !== 'patient') throw forbidden('only the patient’s own link can be shared onward');
    const recipient = input.recipient.trim();
    if (recipient.length < 1 || recipient.length > 60) throw badRequest('INVALID_RECIPIENT', 'say who the link is for (1–60 characters)');
    const days = input.days ?? Math.min(3, this.options.onwardMaxDays);
    if (!Number.isInteger(days) || days < 1 || days > this.options.onwardMaxDays) throw badRequest('INVALID_EXPIRY', `an onward link lasts 1..${this.options.onwardMaxDays} days`);
    const expiresAt = new Date(Math.min(Date.now() + days * 86_400_000, Date.parse(link.expires_at))).toISOString();
    const code = input.accessCode === false ? undefined : newAccessCode(6);
    const row = await this.insertLink({
      kind: 'onward',
      studyInstanceUid: link.study_instance_uid,
      reportId: link.report_id,
      institutionId: link.institution_id,
      parentId: link.id,
      recipient,
      codeHash: code ? await hashPassword(code) : null,
      createdBy: `share:${link.id}`,
      expiresAt,
    });
    await this.recordAccess(live, 'shared-onward', origin);
    await this.deps.audit.record({ action: 'study.shared', caller: linkHolderCaller(link, origin), objectType: 'share', objectId: row.id, patientId: await this.patientIdOf(link.study_instance_uid), details: { studyInstanceUid: link.study_instance_uid, kind: 'onward', parentId: link.id, recipient, expiresAt, accessCode: Boolean(code), actor: 'patient' } });
    return { ...this.view(row), ...(code ? { accessCode: code } : {}) };
  }

  /** The patient's onward links and who opened the patient's link or any of them, newest first. */
  async patientAccessList(live: LiveLink): Promise<{ onward: ShareLinkView[]; accesses: Array<{ at: string; action: string; who: string | null; linkId: string; device: string | null }> }> {
    const root = live.link.kind === 'patient' ? live.link : live.parent;
    if (!root || live.link.kind !== 'patient') throw forbidden('only the patient sees who opened the film');
    const onward = await this.deps.store.onwardLinksOf(root.id);
    const who = new Map<string, string | null>([[root.id, null], ...onward.map((o) => [o.id, o.recipient] as const)]);
    const rows = await this.deps.store.accessesOf([...who.keys()], 200);
    return {
      onward: onward.map((row) => this.view(row)),
      accesses: rows.filter((row) => row.action !== 'code-issued').map((row) => ({ at: row.at, action: row.action, who: who.get(row.link_id) ?? null, linkId: row.link_id, device: deviceOf(row.user_agent) })),
    };
  }

  async revokeOnward(live: LiveLink, onwardId: string, origin: ShareOrigin): Promise<void> {
    const onward = await this.deps.store.findById(onwardId);
    if (live.link.kind !== 'patient' || !onward || onward.parent_id !== live.link.id) throw notFound('onward link');
    await this.deps.store.revoke(onward.id, new Date().toISOString());
    await this.deps.audit.record({ action: 'share.revoked', caller: linkHolderCaller(live.link, origin), objectType: 'share', objectId: onward.id, patientId: await this.patientIdOf(onward.study_instance_uid), details: { kind: 'onward', recipient: onward.recipient, actor: 'patient' } });
  }

  // Helpers

  private async recordAccess(live: LiveLink, action: string, origin: ShareOrigin): Promise<void> {
    await this.deps.store.recordAccess({ link_id: live.link.id, at: new Date().toISOString(), action, remote_address: origin.remoteAddress ?? null, user_agent: origin.userAgent?.slice(0, 200) ?? null });
  }

  private async insertLink(input: { kind: 'patient' | 'onward'; studyInstanceUid: string; reportId: string | null; institutionId: string; parentId: string | null; recipient: string | null; codeHash: string | null; createdBy: string; expiresAt: string }): Promise<ShareLinkRow> {
    const row: Omit<ShareLinkRow, 'views'> = {
      id: randomUUID(),
      token: randomBytes(24).toString('base64url'),
      study_instance_uid: input.studyInstanceUid,
      report_id: input.reportId,
      institution_id: input.institutionId,
      parent_id: input.parentId,
      kind: input.kind,
      recipient: input.recipient,
      access_code_hash: input.codeHash,
      created_by: input.createdBy,
      created_at: new Date().toISOString(),
      expires_at: input.expiresAt,
      revoked_at: null,
    };
    await this.deps.store.insertLink(row);
    return { ...row, views: 0 };
  }

  private async sendSms(phone: string, row: ShareLinkRow, code: string | undefined): Promise<boolean> {
    const text = `【云影】您的影像报告与云胶片：${this.urlOf(row.token)}${code ? ` 访问码 ${code}` : ''}，${row.expires_at.slice(0, 10)} 前有效。`;
    try {
      await this.deps.sms.send(phone, text);
      return true;
    } catch (error) {
      this.deps.logger?.warn({ err: error instanceof Error ? error.message : String(error), linkId: row.id }, 'cloud-film SMS failed');
      return false;
    }
  }

  /** Staff may issue links for a study they see, at its institution; administrators for any. */
  private async requireIssuableStudy(caller: Caller, studyInstanceUid: string) {
    requirePermission(caller, 'images:read');
    const study = await this.deps.index.studyRow(studyInstanceUid);
    // Out of scope answers exactly like absent (docs/security.md).
    if (!study || (await this.deps.index.studyAccess(studyInstanceUid, studyScopeOf(caller))) !== 'visible') throw notFound(`study ${studyInstanceUid}`);
    if (!isAdministrator(caller) && caller.institutionId !== study.institution_id) throw forbidden('cloud film is issued by the institution that made the study');
    return study;
  }

  private async requireManagedLink(caller: Caller, id: string): Promise<ShareLinkRow> {
    requirePermission(caller, 'images:read');
    const row = /^[0-9a-f-]{36}$/.test(id) ? await this.deps.store.findById(id) : undefined;
    if (!row || (!isAdministrator(caller) && caller.institutionId !== row.institution_id)) throw notFound(`share link ${id}`);
    return row;
  }

  private async imagesOf(studyInstanceUid: string): Promise<InstanceRow[]> {
    const rows = await this.deps.index.findInstances({ studyInstanceUids: [studyInstanceUid], scope: {} });
    return rows.filter((row) => (row.rows ?? 0) > 0);
  }

  private async parsed(row: InstanceRow): Promise<ParsedDicom> {
    const hit = this.parsedCache.get(row.blob_key);
    if (hit) return hit.parsed;
    const bytes = await this.deps.blobs.get(row.blob_key);
    const parsed = parseDicom(bytes);
    this.parsedCache.set(row.blob_key, { parsed, bytes: bytes.length });
    return parsed;
  }

  private async patientIdOf(studyInstanceUid: string): Promise<string | undefined> {
    return (await this.deps.index.patientIdsOfStudies([studyInstanceUid])).get(studyInstanceUid);
  }

  view(row: ShareLinkRow): ShareLinkView {
    return {
      id: row.id,
      kind: row.kind === 'onward' ? 'onward' : 'patient',
      url: this.urlOf(row.token),
      studyInstanceUid: row.study_instance_uid,
      reportId: row.report_id,
      institutionId: row.institution_id,
      parentId: row.parent_id,
      recipient: row.recipient,
      hasAccessCode: row.access_code_hash !== null,
      createdBy: row.created_by,
      createdAt: row.created_at,
      expiresAt: row.expires_at,
      revokedAt: row.revoked_at,
      views: Number(row.views),
      status: statusOf(row),
    };
  }
}

const shareThrottled = (retryAfterSeconds: number): ShareRefusal =>
  new ShareRefusal('SHARE_THROTTLED', `too many wrong codes; try again in ${retryAfterSeconds} s`, 429, retryAfterSeconds);

function isAdministrator(caller: Caller): boolean {
  return hasPermission(caller, 'platform:manage');
}

function statusOf(row: ShareLinkRow): LinkStatus {
  if (row.revoked_at !== null) return 'revoked';
  if (!(Date.parse(row.expires_at) > Date.now())) return 'expired';
  return 'live';
}

function newAccessCode(length: number): string {
  if (!Number.isInteger(length) || length < 4 || length > 6) throw badRequest('INVALID_CODE_LENGTH', 'an access code has 4 to 6 digits');
  return String(randomInt(0, 10 ** length)).padStart(length, '0');
}

function sessionMac(codeHash: string, linkId: string, expires: number): string {
  return createHmac('sha256', `yunying-share-session\u0000${codeHash}`).update(`${linkId}.${expires}`).digest('base64url');
}

/** 王^小东 → 王**; Wang^XiaoDong → W***: enough to recognise one's own film, not more. */
export function maskName(pn: string | null): string | null {
  if (!pn) return null;
  const groups = pn.split('=');
  const name = (groups[1] || groups[0] || '').replace(/\^/g, '').trim();
  if (!name) return null;
  const chars = [...name];
  return chars[0] + '*'.repeat(Math.min(Math.max(chars.length - 1, 1), 3));
}

function pageSeries(series: readonly SeriesSummary[], instances: readonly InstanceRow[]): PageSeries[] {
  const bySeries = new Map<string, InstanceRow[]>();
  for (const row of instances) {
    const list = bySeries.get(row.series_instance_uid) ?? [];
    list.push(row);
    bySeries.set(row.series_instance_uid, list);
  }
  const out: PageSeries[] = [];
  for (const s of series) {
    const rows = bySeries.get(s.seriesInstanceUid);
    if (!rows || rows.length === 0) continue;
    rows.sort((a, b) => (a.instance_number ?? 0) - (b.instance_number ?? 0) || Number(a.seq) - Number(b.seq));
    out.push({ uid: s.seriesInstanceUid, number: s.seriesNumber, modality: s.modality, description: s.description, images: rows.map((row) => [row.sop_instance_uid, Math.max(1, row.number_of_frames ?? 1)]) });
  }
  return out;
}

function seriesFolderNames(series: readonly SeriesSummary[]): Map<string, string> {
  return new Map(series.map((s, i) => [s.seriesInstanceUid, `series-${String(s.seriesNumber ?? i + 1).padStart(3, '0')}${s.modality ? `-${s.modality.replace(/[^A-Za-z0-9]/g, '')}` : ''}`]));
}

function deviceOf(userAgent: string | null): string | null {
  if (!userAgent) return null;
  if (/iPhone|iPad/.test(userAgent)) return 'iOS';
  if (/Android/.test(userAgent)) return 'Android';
  if (/Windows/.test(userAgent)) return 'Windows';
  if (/Mac OS X/.test(userAgent)) return 'macOS';
  if (/Linux/.test(userAgent)) return 'Linux';
  return 'other';
}

/** The text file in the JPEG zip that names the frames left out (zh-CN first, then en). */
function notConvertedNote(leftOut: string[]): string {
  return [
    '以下图像未能转换为 JPEG，因此不在本压缩包中；原始 DICOM 文件在“原始 DICOM 文件（zip）”下载中。',
    'These images could not be converted to JPEG and are not in this zip; the original DICOM files are in the DICOM download.',
    '',
    ...leftOut,
    '',
  ].join('\r\n');
}

/**
 * A least-recently-used map (insertion order of a Map) bounded by the sum of its entries' sizes:
 * `sizeOf` gives an entry's cost (bytes for parsed instances and JPEGs; 1 each counts entries).
 * An entry costing more than the whole budget is not kept at all.
 */
export class LruCache<T> {
  private readonly map = new Map<string, { value: T; size: number }>();
  private used = 0;
  constructor(
    private readonly budget: number,
    private readonly sizeOf: (value: T) => number = () => 1,
  ) {}
  /** the sum of the sizes of the entries kept */
  get size(): number {
    return this.used;
  }
  get count(): number {
    return this.map.size;
  }
  get(key: string): T | undefined {
    const entry = this.map.get(key);
    if (entry !== undefined) {
      this.map.delete(key);
      this.map.set(key, entry);
    }
    return entry?.value;
  }
  set(key: string, value: T): void {
    this.delete(key);
    const size = this.sizeOf(value);
    if (size > this.budget) return;
    this.map.set(key, { value, size });
    this.used += size;
    while (this.used > this.budget) this.delete(this.map.keys().next().value!);
  }
  private delete(key: string): void {
    const entry = this.map.get(key);
    if (!entry) return;
    this.map.delete(key);
    this.used -= entry.size;
  }
}
