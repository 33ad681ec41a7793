import { randomUUID } from 'node:crypto';
import type { AuditRecorder } from '../access/audit-event.ts';
import { actsForEveryInstitution, type Caller } from '../access/caller.ts';
import { badRequest, conflict, forbidden, notFound } from '../errors.ts';
import type { Notifier } from '../events/notifier.ts';
import type { ReadingRequestRow, ReadingStore, ReportRow } from '../store/reading-store.ts';
import type { TransactionPorts, UnitOfWork } from '../store/unit-of-work.ts';
import { mayView, requireClaimer, requireReaderAt, requireReviewerAt } from './report-policy.ts';
import type { SigningCredential, SigningMethod } from './e-signature.ts';
import type { ReportSignatureTable } from '../store/review-store.ts';
import { assignReportNumber, issuedVersionOf } from './report-number.ts';
import { STARTER_TEMPLATES } from './starter-templates.ts';
import { productivityStore, type ProductivityStore } from '../store/productivity-store.ts';
import { attachmentRows, attachmentsView, type ReportAttachments, type ReportKeyImage, type ReportMeasurement } from './report-attachments.ts';

/** What happens when a report is signed or amended: the SR with the study, the PDF, … */
export interface SignedReportDelivery {
  /** stores the report as DICOM SR with the study; resolves to its SOP Instance UID */
  storeStructuredReport(request: ReadingRequestRow, report: ReportRow): Promise<string | undefined>;
}

/** The reading store's part that holds reports, their versions and templates. */
export type ReportStore = Pick<
  ReadingStore,
  | 'findRequest'
  | 'findReport'
  | 'findReportOfRequest'
  | 'insertReport'
  | 'updateReport'
  | 'changeReportAndRequest'
  | 'addVersion'
  | 'versions'
  | 'reportsOfStudy'
  | 'undeliveredSignedReports'
  | 'claimDelivery'
  | 'findTemplate'
  | 'listTemplates'
  | 'insertTemplates'
>;

export interface ReportDependencies {
  store: ReportStore;
  audit: AuditRecorder;
  notifier: Notifier;
  /** a signature, a return or an addendum with its audit record and feed row in one transaction */
  unitOfWork: UnitOfWork;
  delivery?: SignedReportDelivery;
  /** a user's display name (赵医生) for the report's readers; absent: user names are shown */
  displayNameOf?: (username: string) => Promise<string | null | undefined>;
  /**
   * the electronic signature of a signing (reports/e-signature.ts); the reports module always
   * gives it. Absent (service-level tests built without the module's tables): signing asks
   * for no credential and records no signature row.
   */
  eSignature?: ReportSignatures;
  /** a report's measurements and key images (migration 0017), read on the process-wide handle */
  attachments?: Pick<ProductivityStore, 'attachments'>;
  /** IANA zone whose calendar year a report number takes (reports/report-number.ts); Asia/Shanghai unless given */
  timeZone?: string;
}

/** What the report service needs of the e-signature: the check, and the signature row in the signing's transaction. */
export interface ReportSignatures {
  verify(caller: Caller, credential: SigningCredential, context: Record<string, unknown>): Promise<SigningMethod>;
  recordIn(tx: TransactionPorts, row: ReportSignatureTable): Promise<void>;
  signaturesOf(reportId: string): Promise<ReportSignatureTable[]>;
}

/** A signing: the signer's credential, and the reviewer's changes to the text when they edit before signing (修改后审核). */
export interface SignInput extends SigningCredential {
  findings?: string;
  impression?: string;
  positive?: boolean;
}

/** A signed version's electronic signature, as getReport shows it. */
export interface ReportSignatureView {
  version: number;
  signer: string;
  signerName: string | null;
  signedAt: string;
  method: string;
  /** the author's submitted version this signature signed */
  submittedVersion: number;
  /** the reviewer's 'review-edit' version, when they changed the text before signing */
  reviewEditVersion: number | null;
}

export interface DraftInput {
  findings: string;
  impression: string;
  positive?: boolean | null;
  templateId?: string;
  /** given: replaces the report's measurements (absent: they stay as they are) */
  measurements?: ReportMeasurement[];
  /** given: replaces the report's key images */
  keyImages?: ReportKeyImage[];
}

export interface ReportView {
  id: string;
  requestId: string;
  studyInstanceUid: string;
  status: string;
  version: number;
  findings: string;
  impression: string;
  positive: boolean | null;
  templateId: string | null;
  author: string;
  reviewer: string | null;
  reviewComments: string | null;
  createdAt: string;
  updatedAt: string;
  submittedAt: string | null;
  signedAt: string | null;
  structuredReportSopInstanceUid: string | null;
  /** 报告编号 (KS-COUNTY-2026-000123), given at signing; null before (reports/report-number.ts) */
  reportNumber: string | null;
}

export interface ReportVersionView {
  version: number;
  kind: string;
  findings: string;
  impression: string;
  positive: boolean | null;
  addendum: string | null;
  savedBy: string;
  /** savedBy's display name, when the user has one */
  savedByName?: string | null;
  savedAt: string;
  /** 第 N 版 of an issued version (the signature 1, each addendum +1); null for submissions and returns */
  issuedVersion?: number | null;
}

/** getReport's names of the people on the report, for screens (the fields above stay user names). */
export interface ReportPeopleNames {
  authorName: string | null;
  reviewerName: string | null;
}

/**
 * Reports as a document lifecycle: draft → submitted → signed (two-level sign-off), returned
 * for revision, addenda after signing, every version kept; the signed SR delivered with the
 * study. The report belongs to a case (a reading request today): the case's state moves with
 * the report in one conditional update of the store, so concurrent steps resolve to one winner.
 */
export class ReportService {
  private readonly deps: ReportDependencies;

  constructor(deps: ReportDependencies) {
    this.deps = deps;
  }

  /** Seeds the starter templates (idempotent, safe from several processes). */
  async seedTemplates(): Promise<void> {
    const now = new Date().toISOString();
    await this.deps.store.insertTemplates(STARTER_TEMPLATES.map((template) => ({ ...template, institution_id: null, created_at: now, scope: 'system', owner: null, updated_at: null, updated_by: null })));
  }

  /** The shared templates, the caller's institution's and the caller's own (personal templates are seen by their owner only). */
  async templates(caller: Caller, filter: { modality?: string; bodyPart?: string; institutionId?: string }) {
    // an administrator keeps any institution's templates and may list them; everyone else sees their own institution's
    const institutionId = filter.institutionId && actsForEveryInstitution(caller) ? filter.institutionId : caller.institutionId;
    return (await this.deps.store.listTemplates({ modality: filter.modality, bodyPart: filter.bodyPart, institutionId, owner: caller.name })).map((t) => ({ id: t.id, modality: t.modality, bodyPart: t.body_part, name: t.name, findings: t.findings, impression: t.impression, scope: t.scope, owner: t.owner, institutionId: t.institution_id, updatedAt: t.updated_at ?? t.created_at }));
  }

  async saveDraft(caller: Caller, requestId: string, draft: DraftInput): Promise<ReportView> {
    const row = await this.visibleRequest(caller, requestId);
    requireClaimer(caller, row, 'report:write');
    if (row.status !== 'claimed') throw conflict('ILLEGAL_TRANSITION', `cannot edit the report: the request is ${(await this.deps.store.findRequest(row.id))?.status ?? 'gone'}`);
    if (draft.templateId && !(await this.deps.store.findTemplate(draft.templateId))) throw notFound(`template ${draft.templateId}`);
    const now = new Date().toISOString();
    const changes = { findings: draft.findings, impression: draft.impression, positive: draft.positive === undefined || draft.positive === null ? null : draft.positive ? 1 : 0, template_id: draft.templateId ?? null, updated_at: now };
    // Two first autosaves may race (two tabs, a retry): the loser updates what the winner inserted.
    const inserted = await this.deps.store.insertReport({ id: randomUUID(), request_id: row.id, study_instance_uid: row.study_instance_uid, status: 'draft', version: 0, ...changes, author: caller.name, reviewer: null, review_comments: null, created_at: now, submitted_at: null, signed_at: null, sr_sop_instance_uid: null });
    if (!inserted) {
      const existing = (await this.deps.store.findReportOfRequest(row.id))!;
      if (!(await this.deps.store.updateReport(existing.id, ['draft', 'returned'], { ...changes, author: caller.name }))) {
        throw conflict('REPORT_NOT_EDITABLE', `the report is ${existing.status}; a signed report takes an addendum`);
      }
    }
    const saved = (await this.deps.store.findReportOfRequest(row.id))!;
    if (draft.measurements || draft.keyImages) await this.saveAttachments(caller, saved, draft);
    return reportView(saved);
  }

  /** The draft's measurements and key images replace the report's, in one transaction. */
  private async saveAttachments(caller: Caller, report: ReportRow, draft: DraftInput): Promise<void> {
    const rows = attachmentRows(report.id, report.study_instance_uid, caller.name, draft);
    await this.deps.unitOfWork.run(async (tx) => {
      const store = tx.open(productivityStore);
      if (rows.measurements) await store.replaceAttachments(report.id, 'measurement', rows.measurements);
      if (rows.keyImages) await store.replaceAttachments(report.id, 'key-image', rows.keyImages);
    });
  }

  /** A report's measurements and key images, for whoever may see the report (audited as a view). */
  async attachments(caller: Caller, reportId: string): Promise<ReportAttachments> {
    const { report } = await this.visibleReport(caller, reportId);
    const rows = this.deps.attachments ? await this.deps.attachments.attachments(report.id) : [];
    const view = attachmentsView(rows);
    await this.deps.audit.record({ action: 'study.viewed', caller, objectType: 'study', objectId: report.study_instance_uid, details: { reportId: report.id, attachments: { measurements: view.measurements.length, keyImages: view.keyImages.length } } });
    return view;
  }

  async submit(caller: Caller, reportId: string): Promise<ReportView> {
    const { report, request } = await this.visibleReport(caller, reportId);
    requireClaimer(caller, request, 'report:write');
    if (!report.findings.trim() || !report.impression.trim()) throw badRequest('REPORT_INCOMPLETE', 'findings and impression are both needed');
    if (report.positive === null) throw badRequest('REPORT_INCOMPLETE', 'mark the report positive or negative');
    const now = new Date().toISOString();
    const version = report.version + 1;
    const ok = await this.deps.store.changeReportAndRequest(
      { id: report.id, fromStatuses: ['draft', 'returned'], changes: { status: 'submitted', submitted_at: now, updated_at: now, version }, version: { report_id: report.id, version, kind: 'submitted', findings: report.findings, impression: report.impression, positive: report.positive, addendum: null, saved_by: caller.name, saved_at: now } },
      { id: request.id, from: ['claimed'], to: 'submitted', set: { submitted_at: now }, actor: caller.name },
      now,
    );
    if (!ok) throw conflict('ILLEGAL_TRANSITION', `cannot submit: the report is ${report.status}`);
    await this.deps.notifier.publish([request.reading_institution_id], 'report.submitted', { requestId: request.id, reportId: report.id });
    return reportView((await this.deps.store.findReport(report.id))!);
  }

  /**
   * The reviewer signs a submitted report (二级审核), with an electronic signature (the
   * password or signing PIN, reports/e-signature.ts) and optionally their own changes to the
   * text first (修改后审核): those are kept as a 'review-edit' version before the 'signed'
   * one, so the author's submitted text and the signed text can be compared. The signature
   * (who, when, how) is stored with the signed version and audited.
   */
  async sign(caller: Caller, reportId: string, input: SignInput = {}): Promise<ReportView> {
    const { report, request } = await this.visibleReport(caller, reportId);
    requireReviewerAt(caller, request);
    if (report.author === caller.name) throw forbidden('two-level sign-off: the author cannot sign their own report');
    // Asked before the signature: nothing to sign means no password is spent on it.
    if (report.status !== 'submitted') throw conflict('ILLEGAL_TRANSITION', `cannot sign: the report is ${report.status}`);
    const edit = reviewEditOf(report, input);
    if (edit && (!edit.findings.trim() || !edit.impression.trim())) throw badRequest('REPORT_INCOMPLETE', 'findings and impression are both needed');
    const method = this.deps.eSignature ? await this.deps.eSignature.verify(caller, input, { reportId: report.id, requestId: request.id }) : undefined;
    const now = new Date().toISOString();
    const submittedVersion = report.version;
    const editVersion = edit ? submittedVersion + 1 : null;
    const version = submittedVersion + (edit ? 2 : 1);
    const text = edit ?? { findings: report.findings, impression: report.impression, positive: report.positive };
    const signedRow = { report_id: report.id, version, kind: 'signed', findings: text.findings, impression: text.impression, positive: text.positive, addendum: null, saved_by: caller.name, saved_at: now };
    const signed = await this.deps.unitOfWork.run(async (tx) => {
      const ok = await tx.reading.changeReportAndRequest(
        { id: report.id, fromStatuses: ['submitted'], changes: { status: 'signed', signed_at: now, reviewer: caller.name, updated_at: now, version: editVersion ?? version, ...(edit ? { findings: edit.findings, impression: edit.impression, positive: edit.positive } : {}) }, version: edit ? { ...signedRow, version: editVersion!, kind: 'review-edit' } : signedRow },
        { id: request.id, from: ['submitted'], to: 'signed', set: { signed_at: now }, actor: caller.name, ...(edit ? { details: { reviewEdited: true } } : {}) },
        now,
      );
      if (!ok) return undefined;
      // 报告编号 at the first issue, in the signing's transaction (reports/report-number.ts)
      await assignReportNumber(tx, report.id, request.reading_institution_id, now, this.deps.timeZone ?? 'Asia/Shanghai');
      if (edit && !(await tx.reading.addVersion(report.id, editVersion!, signedRow, { updated_at: now }))) throw conflict('CONCURRENT_CHANGE', 'the report changed meanwhile; reload and try again');
      if (method) await this.deps.eSignature!.recordIn(tx, { report_id: report.id, version, signer: caller.name, signed_at: now, method, submitted_version: submittedVersion, review_edit_version: editVersion });
      const row = (await tx.reading.findReport(report.id))!;
      if (edit) tx.audit.record({ action: 'report.review-edited', caller, objectType: 'study', objectId: request.study_instance_uid, details: { requestId: request.id, reportId: report.id, submittedVersion, version: editVersion, changed: edit.changed } });
      recordReportChange(tx, caller, request, row, 'report.signed', { signatureMethod: method ?? null, submittedVersion, ...(edit ? { reviewEditVersion: editVersion } : {}) });
      return row;
    });
    if (!signed) throw conflict('ILLEGAL_TRANSITION', `cannot sign: the report is ${(await this.deps.store.findReport(report.id))?.status ?? 'gone'}`);
    await this.deliver(caller, request, signed, 'report.signed');
    return reportView((await this.deps.store.findReport(report.id))!);
  }

  async returnForRevision(caller: Caller, reportId: string, comments: string): Promise<ReportView> {
    const { report, request } = await this.visibleReport(caller, reportId);
    requireReviewerAt(caller, request);
    const now = new Date().toISOString();
    const version = report.version + 1;
    const ok = await this.deps.unitOfWork.run(async (tx) => {
      const returned = await tx.reading.changeReportAndRequest(
        { id: report.id, fromStatuses: ['submitted'], changes: { status: 'returned', review_comments: comments, updated_at: now, version }, version: { report_id: report.id, version, kind: 'returned', findings: report.findings, impression: report.impression, positive: report.positive, addendum: comments, saved_by: caller.name, saved_at: now } },
        { id: request.id, from: ['submitted'], to: 'claimed', set: { submitted_at: null }, actor: caller.name, details: { returned: comments } },
        now,
      );
      if (returned) recordReportChange(tx, caller, request, { ...report, version }, 'report.returned');
      return returned;
    });
    if (!ok) throw conflict('ILLEGAL_TRANSITION', `cannot return: the report is ${report.status}`);
    // the author's screen names the reviewer (孙主任) in its notice
    const reviewerName = (await this.displayNames([caller.name])).get(caller.name) ?? null;
    await this.deps.notifier.publish([request.reading_institution_id], 'report.returned', { requestId: request.id, reportId: report.id, author: report.author, reviewer: caller.name, reviewerName });
    return reportView((await this.deps.store.findReport(report.id))!);
  }

  /** A signed report is never edited; an addendum makes a new version, and every version is kept. */
  async addAddendum(caller: Caller, reportId: string, text: string): Promise<ReportView> {
    const { report, request } = await this.visibleReport(caller, reportId);
    requireReaderAt(caller, request, 'report:write');
    if (report.status !== 'signed') throw conflict('REPORT_NOT_SIGNED', 'an addendum is for a signed report; edit the draft instead');
    const now = new Date().toISOString();
    const amended = await this.deps.unitOfWork.run(async (tx) => {
      const ok = await tx.reading.addVersion(report.id, report.version, { report_id: report.id, version: report.version + 1, kind: 'addendum', findings: report.findings, impression: report.impression, positive: report.positive, addendum: text, saved_by: caller.name, saved_at: now }, { updated_at: now });
      if (!ok) return undefined;
      const row = (await tx.reading.findReport(report.id))!;
      recordReportChange(tx, caller, request, row, 'report.amended');
      return row;
    });
    if (!amended) throw conflict('CONCURRENT_CHANGE', 'the report changed meanwhile; reload and try again');
    await this.deliver(caller, request, amended, 'report.amended');
    return reportView((await this.deps.store.findReport(report.id))!);
  }

  /** Signed or amended (committed with its record): the SR goes with the study, the township's screens hear of it at once. */
  private async deliver(caller: Caller, request: ReadingRequestRow, report: ReportRow, type: 'report.signed' | 'report.amended'): Promise<void> {
    // The report is signed whatever happens to its SR: a failed store is recorded, and the
    // background retry (retryUndeliveredReports) stores it later.
    await this.storeStructuredReport(caller, request, report, report.sr_sop_instance_uid);
    await this.deps.notifier.publish([request.requesting_institution_id, request.reading_institution_id], type, { requestId: request.id, reportId: report.id, studyInstanceUid: request.study_instance_uid, version: report.version, positive: report.positive === 1 });
  }

  private async storeStructuredReport(caller: Caller, request: ReadingRequestRow, report: ReportRow, seen: string | null): Promise<boolean> {
    if (!this.deps.delivery) return true;
    const marker = `delivering:${new Date().toISOString()}`;
    // Only one process stores an SR for this version: the conditional marker decides.
    if (!(await this.deps.store.claimDelivery(report.id, seen, marker))) return false;
    try {
      const sopInstanceUid = await this.deps.delivery.storeStructuredReport(request, { ...report, sr_sop_instance_uid: seen });
      // '' records "nothing to store" (the study is gone), so the retry leaves it alone.
      await this.deps.store.claimDelivery(report.id, marker, sopInstanceUid ?? '');
      return true;
    } catch (error) {
      // Back to "not delivered", so that the retry picks it up (an addendum's SR then goes without its predecessor link).
      await this.deps.store.claimDelivery(report.id, marker, null).catch(() => undefined);
      await this.deps.audit.record({ action: 'report.delivery-failed', outcome: 'failure', caller, objectType: 'study', objectId: request.study_instance_uid, details: { reportId: report.id, version: report.version, error: (error as Error).message } });
      return false;
    }
  }

  /**
   * The SR delivery of one report, as the change feed's 'report-delivery' consumer runs it
   * for each signature and addendum once the signing request has had its chance
   * (reports/report-delivery-consumer.ts): 'done' when there is nothing to store (stored
   * already, not signed, gone); 'busy' while another process holds the delivery (a marker
   * younger than five minutes, as the sweep's retry counts it); else stores it now
   * ('stored'), and throws when that fails (recorded as report.delivery-failed, the SR back
   * to "not delivered" for the next attempt).
   */
  async deliverSignedReport(reportId: string, now = Date.now()): Promise<{ outcome: 'done' | 'stored' } | { outcome: 'busy'; retryInMs: number }> {
    const report = await this.deps.store.findReport(reportId);
    if (!report || report.status !== 'signed' || !this.deps.delivery) return { outcome: 'done' };
    const seen = report.sr_sop_instance_uid;
    if (seen !== null && !seen.startsWith('delivering:')) return { outcome: 'done' };
    const staleAfterMs = 5 * 60_000;
    if (seen !== null && seen >= `delivering:${new Date(now - staleAfterMs).toISOString()}`) return { outcome: 'busy', retryInMs: Math.min(staleAfterMs, 30_000) };
    const request = await this.deps.store.findRequest(report.request_id);
    if (!request) return { outcome: 'done' };
    const system: Caller = { kind: 'system', name: 'report-delivery', institutionId: request.reading_institution_id, role: 'administrator', visibleInstitutionIds: 'all', via: 'system' };
    if (await this.storeStructuredReport(system, request, report, seen)) return { outcome: 'stored' };
    // Either another process claimed it a moment ago, or the store failed (and was recorded).
    const after = (await this.deps.store.findReport(reportId))?.sr_sop_instance_uid ?? null;
    if (after !== null && after.startsWith('delivering:')) return { outcome: 'busy', retryInMs: 30_000 };
    if (after !== null) return { outcome: 'done' };
    throw new Error(`the SR of report ${reportId} could not be stored (see report.delivery-failed in the audit trail)`);
  }

  /** Stores the SRs that a failed or interrupted delivery left out; any process may run it. */
  async retryUndeliveredReports(now = Date.now()): Promise<number> {
    let delivered = 0;
    const rows = await this.deps.store.undeliveredSignedReports(new Date(now - 30_000).toISOString(), new Date(now - 5 * 60_000).toISOString(), 20);
    for (const report of rows) {
      const request = await this.deps.store.findRequest(report.request_id);
      if (!request) continue;
      const system: Caller = { kind: 'system', name: 'delivery-retry', institutionId: request.reading_institution_id, role: 'administrator', visibleInstitutionIds: 'all', via: 'system' };
      if (await this.storeStructuredReport(system, request, report, report.sr_sop_instance_uid)) delivered += 1;
    }
    return delivered;
  }

  async getReport(caller: Caller, reportId: string): Promise<ReportView & ReportPeopleNames & { issuedVersion: number; versions: ReportVersionView[]; signatures: ReportSignatureView[] }> {
    const { report } = await this.visibleReport(caller, reportId);
    await this.deps.audit.record({ action: 'study.viewed', caller, objectType: 'study', objectId: report.study_instance_uid, details: { reportId: report.id, version: report.version } });
    const rows = await this.deps.store.versions(report.id);
    const signatureRows = (await this.deps.eSignature?.signaturesOf(report.id)) ?? [];
    const nameOf = await this.displayNames([report.author, ...(report.reviewer ? [report.reviewer] : []), ...rows.map((v) => v.saved_by)]);
    const signatures = signatureRows.map((row) => ({ version: row.version, signer: row.signer, signerName: nameOf.get(row.signer) ?? null, signedAt: row.signed_at, method: row.method, submittedVersion: row.submitted_version, reviewEditVersion: row.review_edit_version }));
    const versions = rows.map((v) => ({ version: v.version, kind: v.kind, findings: v.findings, impression: v.impression, positive: v.positive === null ? null : v.positive === 1, addendum: v.addendum, savedBy: v.saved_by, savedByName: nameOf.get(v.saved_by) ?? null, savedAt: v.saved_at, issuedVersion: issuedVersionOf([v]) ? issuedVersionOf(rows, v.version) : null }));
    return { ...reportView(report), authorName: nameOf.get(report.author) ?? null, reviewerName: report.reviewer ? nameOf.get(report.reviewer) ?? null : null, issuedVersion: issuedVersionOf(rows), versions, signatures };
  }

  /** Display names of the given users (each looked up once); users without one are left out. */
  private async displayNames(usernames: string[]): Promise<Map<string, string>> {
    const names = new Map<string, string>();
    const lookup = this.deps.displayNameOf;
    if (!lookup) return names;
    for (const username of new Set(usernames)) {
      const name = await lookup(username);
      if (name) names.set(username, name);
    }
    return names;
  }

  /** The report of a case the caller has been allowed to see already (the request's detail view). */
  async reportOfCase(caseId: string): Promise<(ReportView & ReportPeopleNames) | undefined> {
    const report = await this.deps.store.findReportOfRequest(caseId);
    if (!report) return undefined;
    // the review panel names the author (赵医生), not their login name
    const nameOf = await this.displayNames([report.author, ...(report.reviewer ? [report.reviewer] : [])]);
    return { ...reportView(report), authorName: nameOf.get(report.author) ?? null, reviewerName: report.reviewer ? nameOf.get(report.reviewer) ?? null : null };
  }

  /** For delivery formats: the report and its request, visibility checked. */
  async reportForDelivery(caller: Caller, reportId: string): Promise<{ report: ReportRow; request: ReadingRequestRow }> {
    return this.visibleReport(caller, reportId);
  }

  async signedReportsOfStudy(caller: Caller, studyInstanceUid: string): Promise<Array<{ report: ReportRow; request: ReadingRequestRow }>> {
    const out: Array<{ report: ReportRow; request: ReadingRequestRow }> = [];
    for (const report of await this.deps.store.reportsOfStudy(studyInstanceUid)) {
      if (report.status !== 'signed') continue;
      const request = await this.deps.store.findRequest(report.request_id);
      if (request && mayView(caller, request)) out.push({ report, request });
    }
    return out;
  }

  private async visibleRequest(caller: Caller, requestId: string): Promise<ReadingRequestRow> {
    const row = await this.deps.store.findRequest(requestId);
    // Another institution's request answers like one that does not exist.
    if (!row || !mayView(caller, row)) throw notFound(`reading request ${requestId}`);
    return row;
  }

  private async visibleReport(caller: Caller, reportId: string): Promise<{ report: ReportRow; request: ReadingRequestRow }> {
    const report = await this.deps.store.findReport(reportId);
    const request = report && (await this.deps.store.findRequest(report.request_id));
    if (!report || !request || !mayView(caller, request)) throw notFound(`report ${reportId}`);
    return { report, request };
  }
}

export function reportView(report: ReportRow): ReportView {
  return {
    id: report.id,
    requestId: report.request_id,
    studyInstanceUid: report.study_instance_uid,
    status: report.status,
    version: report.version,
    findings: report.findings,
    impression: report.impression,
    positive: report.positive === null ? null : report.positive === 1,
    templateId: report.template_id,
    author: report.author,
    reviewer: report.reviewer,
    reviewComments: report.review_comments,
    createdAt: report.created_at,
    updatedAt: report.updated_at,
    submittedAt: report.submitted_at,
    signedAt: report.signed_at,
    structuredReportSopInstanceUid: report.sr_sop_instance_uid && !report.sr_sop_instance_uid.startsWith('delivering:') ? report.sr_sop_instance_uid : null,
    reportNumber: report.report_number ?? null,
  };
}

const FEED_TYPE_OF = { 'report.signed': 'report.signed', 'report.amended': 'report.addendum', 'report.returned': 'report.returned' } as const;

/**
 * A report's signature, addendum or return: its audit record (the action as the trail has
 * always named it) and its feed row, in the change's transaction.
 */
function recordReportChange(tx: TransactionPorts, caller: Caller, request: ReadingRequestRow, report: Pick<ReportRow, 'id' | 'version' | 'positive'>, action: keyof typeof FEED_TYPE_OF, extra: Record<string, unknown> = {}): void {
  tx.audit.record({ action, caller, objectType: 'study', objectId: request.study_instance_uid, details: { requestId: request.id, reportId: report.id, version: report.version, ...extra } });
  tx.feed.append({ type: FEED_TYPE_OF[action], resourceType: 'report', resourceId: report.id, institutionId: request.requesting_institution_id, payload: { reportId: report.id, requestId: request.id, studyInstanceUid: request.study_instance_uid, readingInstitutionId: request.reading_institution_id, version: report.version, positive: report.positive === 1 } });
}

/**
 * The reviewer's changes (修改后审核): the text they sign when it differs from the submitted
 * one, with the fields changed; undefined when they sign the author's text as it is.
 */
function reviewEditOf(report: ReportRow, input: SignInput): { findings: string; impression: string; positive: number | null; changed: string[] } | undefined {
  const findings = input.findings ?? report.findings;
  const impression = input.impression ?? report.impression;
  const positive = input.positive === undefined ? report.positive : input.positive ? 1 : 0;
  const changed = [findings !== report.findings && 'findings', impression !== report.impression && 'impression', positive !== report.positive && 'positive'].filter((field): field is string => Boolean(field));
  return changed.length ? { findings, impression, positive, changed } : undefined;
}
