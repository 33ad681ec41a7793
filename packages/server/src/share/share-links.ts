import { randomBytes, randomUUID } from 'node:crypto';
import QRCode from 'qrcode';
import type { Logger } from 'pino';
import type { AuditEventInput, AuditRecorder } from '../access/audit-event.ts';
import { hasPermission, requirePermission, studyScopeOf, type Caller } from '../access/caller.ts';
import { hashPassword } from '../access/passwords.ts';
import { badRequest, forbidden, notFound, YunyingError } from '../errors.ts';
import type { ReportsPort } from '../reports/reports-port.ts';
import type { AccessStore } from '../store/access-store.ts';
import type { IndexStore } from '../store/index-store.ts';
import { linkHolderCaller, linkUrl, linkView, newAccessCode, statusOf, type CreatedShareLink, type LiveLink, type ShareLinkView, type ShareOptions, type ShareOrigin } from './share-model.ts';
import type { ShareLinkRow, ShareStore } from '../store/share-store.ts';
import type { TransactionPorts, UnitOfWork } from '../store/unit-of-work.ts';
import type { ShareTrail } from './share-trail.ts';
import { isPlausiblePhone, type SmsSender } from './sms-sender.ts';

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

export interface ShareLinksDependencies {
  store: ShareStore;
  index: IndexStore;
  accessStore: Pick<AccessStore, 'clearAttempts'>;
  reports: ReportsPort;
  audit: AuditRecorder;
  /** a link's issue or revocation with its audit record and feed row in one transaction */
  unitOfWork: UnitOfWork;
  sms: SmsSender;
  trail: ShareTrail;
  logger?: Pick<Logger, 'warn' | 'info'>;
}

/**
 * The links of cloud film: staff issue, list, revoke and re-code them (with QR codes and SMS),
 * report delivery makes the automatic one of a signed report, and the patient makes and
 * ends onward links for other doctors.
 */
export class ShareLinks {
  private readonly deps: ShareLinksDependencies;
  readonly options: ShareOptions;

  constructor(deps: ShareLinksDependencies, options: ShareOptions) {
    this.deps = deps;
    this.options = options;
  }

  urlOf(token: string): string {
    return linkUrl(this.options, token);
  }

  view(row: ShareLinkRow): ShareLinkView {
    return linkView(this.options, row);
  }

  // Staff side

  async createLink(caller: Caller, input: CreateLinkInput): Promise<CreatedShareLink> {
    const study = await this.requireIssuableStudy(caller, input.studyInstanceUid);
    const days = input.expiresInDays ?? this.options.defaultTtlDays;
    if (!Number.isInteger(days) || days < 1 || days > this.options.maxTtlDays) throw badRequest('INVALID_EXPIRY', `expiresInDays must be 1..${this.options.maxTtlDays}`);
    if (input.phone !== undefined && !isPlausiblePhone(input.phone)) throw badRequest('INVALID_PHONE', 'the phone number is not a mobile number');
    if (input.reportId) {
      const reports = await this.deps.reports.signedReportsOfStudy(input.studyInstanceUid);
      if (!reports.some((report) => report.id === input.reportId)) throw badRequest('INVALID_REPORT', 'the report is not a signed report of this study');
    }
    const withCode = input.accessCode ?? true;
    const code = withCode ? newAccessCode(input.codeLength ?? 6) : undefined;
    const codeHash = code ? await hashPassword(code) : null;
    // The link, its audit record and its feed row commit together; the SMS goes once the
    // link exists (a failed send is on record too, and the link stands).
    const row = await this.deps.unitOfWork.run(async (tx) => {
      const inserted = await this.insertLink(
        {
          kind: 'patient',
          studyInstanceUid: input.studyInstanceUid,
          reportId: input.reportId ?? null,
          institutionId: study.institution_id,
          parentId: null,
          recipient: null,
          codeHash,
          createdBy: caller.name,
          expiresAt: new Date(Date.now() + days * 86_400_000).toISOString(),
        },
        tx.share,
      );
      recordIssued(tx, { action: 'study.shared', caller, objectType: 'share', objectId: inserted.id, patientId: study.patient_id ?? undefined, details: { studyInstanceUid: inserted.study_instance_uid, kind: 'patient', expiresAt: inserted.expires_at, accessCode: Boolean(code), sms: input.phone !== undefined } }, inserted);
      return inserted;
    });
    let smsSent: boolean | undefined;
    if (input.phone) {
      smsSent = await this.sendSms(input.phone, row, code);
      if (!smsSent) await this.deps.audit.record({ action: 'share.sms-failed', outcome: 'failure', caller, objectType: 'share', objectId: row.id, patientId: study.patient_id ?? undefined });
    }
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
    const patientId = await this.deps.trail.patientIdOf(row.study_instance_uid);
    await this.deps.unitOfWork.run(async (tx) => {
      await tx.share.revoke(row.id, new Date().toISOString());
      recordRevoked(tx, { action: 'share.revoked', caller, objectType: 'share', objectId: row.id, patientId, details: { studyInstanceUid: row.study_instance_uid, kind: row.kind } }, row);
    });
    return this.view((await this.deps.store.findById(row.id))!);
  }

  /** A new code (the old one and every unlocked browser stop working); optionally by SMS. */
  async issueAccessCode(caller: Caller, id: string, input: { codeLength?: number; phone?: string }): Promise<CreatedShareLink> {
    const row = await this.requireManagedLink(caller, id);
    if (statusOf(row) !== 'live') throw new YunyingError('SHARE_NOT_LIVE', 'the link has expired or was revoked; create a new one');
    if (input.phone !== undefined && !isPlausiblePhone(input.phone)) throw badRequest('INVALID_PHONE', 'the phone number is not a mobile number');
    const code = newAccessCode(input.codeLength ?? 6);
    const codeHash = await hashPassword(code);
    const patientId = await this.deps.trail.patientIdOf(row.study_instance_uid);
    // The new code, the link's access entry, the cleared attempts and the audit record commit
    // together; the SMS goes once the code is in force (a failed send is on record too).
    await this.deps.unitOfWork.run(async (tx) => {
      await tx.share.setAccessCodeHash(row.id, codeHash);
      await tx.share.recordAccess({ link_id: row.id, at: new Date().toISOString(), action: 'code-issued', remote_address: null, user_agent: null });
      await tx.access.clearAttempts(`share:${row.id}`);
      tx.audit.record({ action: 'share.code-issued', caller, objectType: 'share', objectId: row.id, patientId, details: { sms: input.phone !== undefined } });
    });
    const fresh = (await this.deps.store.findById(row.id))!;
    let smsSent: boolean | undefined;
    if (input.phone) {
      smsSent = await this.sendSms(input.phone, fresh, code);
      if (!smsSent) await this.deps.audit.record({ action: 'share.sms-failed', outcome: 'failure', caller, objectType: 'share', objectId: row.id, patientId });
    }
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
    const caller: Caller = { kind: 'system', name: `report:${reportId}`, institutionId, role: 'administrator', visibleInstitutionIds: [institutionId], via: 'system' };
    const patientId = await this.deps.trail.patientIdOf(studyInstanceUid);
    const row = await this.deps.unitOfWork.run(async (tx) => {
      const inserted = await this.insertLink(
        {
          kind: 'patient',
          studyInstanceUid,
          reportId,
          institutionId,
          parentId: null,
          recipient: null,
          codeHash: null,
          createdBy: `report:${reportId}`,
          expiresAt: new Date(Date.now() + this.options.defaultTtlDays * 86_400_000).toISOString(),
        },
        tx.share,
      );
      recordIssued(tx, { action: 'study.shared', caller, objectType: 'share', objectId: inserted.id, patientId, details: { studyInstanceUid, kind: 'patient', reportId, expiresAt: inserted.expires_at, automatic: true } }, inserted);
      return inserted;
    });
    return this.view(row);
  };

  async accessesForStaff(caller: Caller, id: string): Promise<Array<{ at: string; action: string; linkId: string; recipient: string | null; remoteAddress: string | null }>> {
    const row = await this.requireManagedLink(caller, id);
    const onward = await this.deps.store.onwardLinksOf(row.id);
    const recipients = new Map([row, ...onward].map((link) => [link.id, link.recipient]));
    return (await this.deps.store.accessesOf([...recipients.keys()])).map((a) => ({ at: a.at, action: a.action, linkId: a.link_id, recipient: recipients.get(a.link_id) ?? null, remoteAddress: a.remote_address }));
  }

  // Patient side: onward links

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
    const codeHash = code ? await hashPassword(code) : null;
    const patientId = await this.deps.trail.patientIdOf(link.study_instance_uid);
    const row = await this.deps.unitOfWork.run(async (tx) => {
      const inserted = await this.insertLink(
        {
          kind: 'onward',
          studyInstanceUid: link.study_instance_uid,
          reportId: link.report_id,
          institutionId: link.institution_id,
          parentId: link.id,
          recipient,
          codeHash,
          createdBy: `share:${link.id}`,
          expiresAt,
        },
        tx.share,
      );
      await this.deps.trail.recordAccess(live, 'shared-onward', origin, tx.share);
      recordIssued(tx, { action: 'study.shared', caller: linkHolderCaller(link, origin), objectType: 'share', objectId: inserted.id, patientId, details: { studyInstanceUid: link.study_instance_uid, kind: 'onward', parentId: link.id, recipient, expiresAt, accessCode: Boolean(code), actor: 'patient' } }, inserted);
      return inserted;
    });
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
    const patientId = await this.deps.trail.patientIdOf(onward.study_instance_uid);
    await this.deps.unitOfWork.run(async (tx) => {
      await tx.share.revoke(onward.id, new Date().toISOString());
      recordRevoked(tx, { action: 'share.revoked', caller: linkHolderCaller(live.link, origin), objectType: 'share', objectId: onward.id, patientId, details: { kind: 'onward', recipient: onward.recipient, actor: 'patient' } }, onward);
    });
  }

  // Helpers

  /** `store`: a unit of work's share store, so that the link commits with its record. */
  private async insertLink(input: { kind: 'patient' | 'onward'; studyInstanceUid: string; reportId: string | null; institutionId: string; parentId: string | null; recipient: string | null; codeHash: string | null; createdBy: string; expiresAt: string }, store: Pick<ShareStore, 'insertLink'>): Promise<ShareLinkRow> {
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
    await store.insertLink(row);
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
}

/** An issued link's audit record and feed row, in the transaction that inserts it. */
function recordIssued(tx: TransactionPorts, event: AuditEventInput, row: ShareLinkRow): void {
  tx.audit.record(event);
  tx.feed.append({ type: 'share.issued', resourceType: 'share-link', resourceId: row.id, institutionId: row.institution_id, payload: { studyInstanceUid: row.study_instance_uid, kind: row.kind, reportId: row.report_id, parentId: row.parent_id } });
}

/** A revoked link's audit record and feed row, in the transaction that revokes it (its onward links with it). */
function recordRevoked(tx: TransactionPorts, event: AuditEventInput, row: ShareLinkRow): void {
  tx.audit.record(event);
  tx.feed.append({ type: 'share.revoked', resourceType: 'share-link', resourceId: row.id, institutionId: row.institution_id, payload: { studyInstanceUid: row.study_instance_uid, kind: row.kind, parentId: row.parent_id } });
}

function isAdministrator(caller: Caller): boolean {
  return hasPermission(caller, 'platform:manage');
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
