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
 *
 * The module's services: share-links.ts (issue, revoke, onward links), patient-session.ts
 * (the code and the unlocked browser), film-media.ts (the page's content, images, zips).
 * This file holds what they share: options, views, refusals.
 */
import { randomInt } from 'node:crypto';
import type { Caller } from '../access/caller.ts';
import { badRequest, YunyingError } from '../errors.ts';
import type { SignedReportText } from '../reports/reports-port.ts';
import type { ShareLinkRow } from '../store/share-store.ts';

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
  /** the frame budget of rendered images, bytes [DEFAULT_MAX_RENDER_FRAME_BYTES of rendering/render.ts] */
  maxRenderFrameBytes?: number;
  /** IANA zone of the times the patient's page shows (config.timeZone, YUNYING_TIME_ZONE) [Asia/Shanghai] */
  timeZone: string;
}

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
  timeZone: 'Asia/Shanghai',
};

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
  /** date and time: DICOM StudyDate/StudyTime, the modality's wall clock, shown as they are (never shifted) */
  exam: { description: string | null; modalities: string[]; date: string | null; time: string | null; accessionNumber: string | null };
  patient: { name: string | null; sex: string | null };
  report: (Omit<SignedReportText, 'readingInstitutionId' | 'id' | 'version'> & { readingInstitution: string; addenda: Array<{ text: string; at: string }> }) | null;
  series: PageSeries[];
  /** CT: window presets [label zh, label en, center, width] */
  windows: Array<[string, string, number, number]>;
  /** the zone the page shows times in (IANA name, e.g. Asia/Shanghai); the instants above stay ISO 8601 UTC */
  timeZone: string;
  /** the patient's own exams across the region and who accessed them (a patient link only; recognition/ adds it) */
  timeline?: FilmTimelineEntry[];
}

export interface FilmTimelineEntry {
  studyDate: string | null;
  institutionName: string | null;
  modalities: string[];
  bodyParts: string[];
  /** the exam this link shows */
  current: boolean;
  /** staff who opened, retrieved, were granted or recognised it, newest first: role and institution, never a name */
  accesses: Array<{ at: string; action: string; actorRole: string; institutionName: string | null }>;
}

/** What a later module adds to a patient link's page (recognition/: the timeline), computed when the page opens. */
export type FilmPageSupplement = (link: ShareLinkRow) => Promise<Partial<Pick<PatientPageData, 'timeline'>>>;

export const TOKEN_PATTERN = /^[A-Za-z0-9_-]{32}$/;
export const SHARE_COOKIE = 'yy_film';

export type ShareRefusalCode = 'SHARE_NOT_FOUND' | 'SHARE_STUDY_GONE' | 'SHARE_EXPIRED' | 'SHARE_REVOKED' | 'SHARE_LOCKED' | 'SHARE_CODE_REQUIRED' | 'SHARE_CODE_WRONG' | 'SHARE_THROTTLED';

/** A patient-side refusal: the routes show it as a page (410, 401, 429, 404; statuses from the error catalog). */
export class ShareRefusal extends YunyingError {
  declare readonly code: ShareRefusalCode;

  constructor(code: ShareRefusalCode, message: string, options: { retryAfterSeconds?: number } = {}) {
    super(code, message, options);
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

/** details.actor of a link holder's audit records */
export function holderActor(link: ShareLinkRow): 'patient' | 'onward-recipient' {
  return link.kind === 'onward' ? 'onward-recipient' : 'patient';
}

export function statusOf(row: ShareLinkRow): LinkStatus {
  if (row.revoked_at !== null) return 'revoked';
  if (!(Date.parse(row.expires_at) > Date.now())) return 'expired';
  return 'live';
}

export function newAccessCode(length: number): string {
  if (!Number.isInteger(length) || length < 4 || length > 6) throw badRequest('INVALID_CODE_LENGTH', 'an access code has 4 to 6 digits');
  return String(randomInt(0, 10 ** length)).padStart(length, '0');
}

/** The patient's URL of a token (printed in QR codes, sent by SMS). */
export function linkUrl(options: Pick<ShareOptions, 'publicBaseUrl'>, token: string): string {
  return `${options.publicBaseUrl}/s/${token}`;
}

export function linkView(options: Pick<ShareOptions, 'publicBaseUrl'>, row: ShareLinkRow): ShareLinkView {
  return {
    id: row.id,
    kind: row.kind === 'onward' ? 'onward' : 'patient',
    url: linkUrl(options, row.token),
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
