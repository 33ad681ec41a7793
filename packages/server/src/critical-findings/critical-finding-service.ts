import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { AuditRecorder } from '../access/audit-event.ts';
import { actsForEveryInstitution, requirePermission, type Caller } from '../access/caller.ts';
import { badRequest, conflict, forbidden, notFound } from '../errors.ts';
import { notificationChanges } from '../events/notification-bus.ts';
import { mayView } from '../reports/report-policy.ts';
import type { ReportDocument } from '../reports/report-document.ts';
import { isPlausiblePhone, maskPhone, type SmsSender } from '../share/sms-sender.ts';
import type { AccessStore } from '../store/access-store.ts';
import type { IndexStore } from '../store/index-store.ts';
import type { ReadingRequestRow, ReadingStore } from '../store/reading-store.ts';
import type { StoreOpener } from '../store/store-opener.ts';
import type { TransactionPorts, UnitOfWork } from '../store/unit-of-work.ts';
import type { CriticalCategory, InformedVia } from './categories.ts';
import type { CriticalFindingRow, CriticalFindingStore, CriticalFindingTables } from './critical-finding-store.ts';

/** The live notifications of this module (the township banner listens for them). */
export const CRITICAL_FLAGGED = 'critical-finding.flagged';
export const CRITICAL_ESCALATED = 'critical-finding.escalated';
export const CRITICAL_ACKNOWLEDGED = 'critical-finding.acknowledged';

export interface CriticalFindingOptions {
  /** an unacknowledged finding is escalated this long after its last alert (YUNYING_CRITICAL_ESCALATE_MINUTES) */
  escalateAfterMs: number;
  /** escalations at most per finding (YUNYING_CRITICAL_ESCALATE_MAX) */
  maxEscalations: number;
}

export interface CriticalFindingDependencies {
  /** the module store on the process-wide handle, and its opener for a unit of work */
  store: CriticalFindingStore;
  opener: StoreOpener<CriticalFindingStore, CriticalFindingTables>;
  unitOfWork: UnitOfWork;
  audit: AuditRecorder;
  /** reading requests (who asked, who reads) through the core reading store */
  requests: Pick<ReadingStore, 'findRequest'>;
  index: Pick<IndexStore, 'studyRow'>;
  access: Pick<AccessStore, 'findInstitution' | 'findUserByName'>;
  /** the platform's SMS interface (share/sms-sender.ts); the cloud-film one */
  sms: SmsSender;
  logger?: Pick<Logger, 'warn'>;
}

export interface CriticalFindingView {
  id: string;
  requestId: string;
  studyInstanceUid: string;
  requestingInstitutionId: string;
  requestingInstitutionName: string | null;
  readingInstitutionId: string;
  readingInstitutionName: string | null;
  category: string;
  categoryZh: string;
  categoryEn: string;
  note: string;
  flaggedBy: string;
  flaggedByName: string | null;
  flaggedAt: string;
  status: 'open' | 'acknowledged';
  smsStatus: string | null;
  escalations: number;
  lastAlertedAt: string;
  escalatedAt: string | null;
  acknowledgement: null | {
    acknowledgedBy: string;
    receivedBy: string;
    informedVia: string;
    clinicianName: string | null;
    informedAt: string;
    acknowledgedAt: string;
    note: string | null;
  };
  /** flagged → acknowledged (recorded), seconds; null while open */
  secondsToAcknowledge: number | null;
  patient?: { id: string | null; name: string | null; sex: string | null };
  accessionNumber?: string | null;
  modality?: string | null;
}

export interface FlagInput {
  category: string;
  note?: string;
}

export interface AcknowledgeInput {
  receivedBy: string;
  informedVia: InformedVia;
  clinicianName?: string;
  /** when the clinician was informed; now when absent */
  informedAt?: string;
  note?: string;
}

export interface ListInput {
  status?: 'open' | 'acknowledged';
  from?: string;
  to?: string;
  limit?: number;
}

/** Clock skew a browser may have when it says "informed now". */
const FUTURE_TOLERANCE_MS = 2 * 60 * 1000;

/**
 * 危急值 (critical findings), issue 14 item 5: a radiologist of the reading centre flags one
 * on a request while reading; the requesting institution is alerted at once (live banner,
 * SMS to its configured number); someone there acknowledges, saying how the clinician was
 * told; an alert left unacknowledged is escalated (alerted again, and the reading centre
 * told) by the sweep. Every step is audited, and each change commits with its audit record,
 * its feed row and its live notifications in one unit of work.
 */
export class CriticalFindingService {
  private readonly deps: CriticalFindingDependencies;
  private readonly options: CriticalFindingOptions;
  constructor(deps: CriticalFindingDependencies, options: CriticalFindingOptions) {
    this.deps = deps;
    this.options = options;
  }

  get escalateAfterMs(): number {
    return this.options.escalateAfterMs;
  }

  // ------------------------------------------------------------------ categories and contacts

  async categories(): Promise<CriticalCategory[]> {
    return (await this.deps.store.categories()).map(({ code, zh, en }) => ({ code, zh, en }));
  }

  async replaceCategories(caller: Caller, categories: readonly CriticalCategory[]): Promise<CriticalCategory[]> {
    requirePermission(caller, 'platform:manage');
    const codes = new Set<string>();
    for (const category of categories) {
      if (codes.has(category.code)) throw badRequest('INVALID_BODY', `category ${category.code} is listed twice`);
      codes.add(category.code);
    }
    const before = await this.deps.store.categories();
    await this.deps.unitOfWork.run(async (tx) => {
      await tx.open(this.deps.opener).replaceCategories(categories.map((category, position) => ({ ...category, position })));
      tx.audit.record({ action: 'critical-finding.categories-changed', caller, details: { before: before.map((row) => row.code), after: categories.map((row) => row.code) } });
    });
    return this.categories();
  }

  async contacts(caller: Caller): Promise<Array<{ institutionId: string; phone: string; updatedBy: string; updatedAt: string }>> {
    requirePermission(caller, 'platform:manage');
    return (await this.deps.store.contacts()).map((row) => ({ institutionId: row.institution_id, phone: row.phone, updatedBy: row.updated_by, updatedAt: row.updated_at }));
  }

  async setContact(caller: Caller, institutionId: string, phone: string): Promise<{ institutionId: string; phone: string }> {
    requirePermission(caller, 'platform:manage');
    if (!(await this.deps.access.findInstitution(institutionId))) throw notFound(`institution ${institutionId}`);
    const normalized = phone.replace(/[\s-]/g, '');
    if (!isPlausiblePhone(normalized)) throw badRequest('INVALID_PHONE', 'the critical-finding phone must be a mobile number');
    await this.deps.unitOfWork.run(async (tx) => {
      await tx.open(this.deps.opener).putContact({ institution_id: institutionId, phone: normalized, updated_by: caller.name, updated_at: new Date().toISOString() });
      tx.audit.record({ action: 'critical-finding.contact-set', caller, objectType: 'institution', objectId: institutionId, details: { phone: maskPhone(normalized) } });
    });
    return { institutionId, phone: normalized };
  }

  async removeContact(caller: Caller, institutionId: string): Promise<void> {
    requirePermission(caller, 'platform:manage');
    const removed = await this.deps.unitOfWork.run(async (tx) => {
      const gone = await tx.open(this.deps.opener).removeContact(institutionId);
      if (gone) tx.audit.record({ action: 'critical-finding.contact-removed', caller, objectType: 'institution', objectId: institutionId });
      return gone;
    });
    if (!removed) throw notFound(`critical-finding phone of institution ${institutionId}`);
  }

  // ------------------------------------------------------------------ flag

  /** A radiologist of the reading centre flags a critical finding on the request. */
  async flag(caller: Caller, requestId: string, input: FlagInput): Promise<CriticalFindingView> {
    requirePermission(caller, 'critical:flag');
    const request = await this.visibleRequest(caller, requestId);
    // Only the centre that reads the request flags on it (its radiologists are the ones who see the images for it).
    if (caller.institutionId !== request.reading_institution_id) throw forbidden('only radiologists of the reading centre may flag a critical finding on this request');
    if (request.status === 'cancelled') throw conflict('CRITICAL_REQUEST_CANCELLED', 'the request was cancelled');
    const category = (await this.deps.store.categories()).find((row) => row.code === input.category);
    if (!category) throw badRequest('CRITICAL_CATEGORY_UNKNOWN', `no critical-finding category ${input.category}`);
    const now = new Date().toISOString();
    const flaggedByName = (await this.deps.access.findUserByName(caller.name))?.display_name ?? null;
    const row: CriticalFindingRow = {
      id: randomUUID(),
      request_id: request.id,
      study_instance_uid: request.study_instance_uid,
      requesting_institution_id: request.requesting_institution_id,
      reading_institution_id: request.reading_institution_id,
      category: category.code,
      category_zh: category.zh,
      category_en: category.en,
      note: input.note?.trim() ?? '',
      flagged_by: caller.name,
      flagged_by_name: flaggedByName,
      flagged_at: now,
      status: 'open',
      sms_status: null,
      escalations: 0,
      last_alerted_at: now,
      escalated_at: null,
      acknowledged_by: null,
      received_by: null,
      informed_via: null,
      clinician_name: null,
      informed_at: null,
      acknowledged_at: null,
      ack_note: null,
    };
    const study = await this.deps.index.studyRow(request.study_instance_uid);
    const patientId = study?.patient_id ?? undefined;
    await this.deps.unitOfWork.run(async (tx) => {
      await tx.open(this.deps.opener).insert(row);
      tx.audit.record({ action: 'critical-finding.flagged', caller, objectType: 'study', objectId: row.study_instance_uid, patientId, details: { criticalFindingId: row.id, requestId: row.request_id, category: row.category, requestingInstitutionId: row.requesting_institution_id } });
      // The banner of the requesting institution (and the reading centre's screens) hear of it in the same commit.
      this.alert(tx, row, CRITICAL_FLAGGED, [row.requesting_institution_id, row.reading_institution_id]);
      tx.audit.record({ action: 'critical-finding.alert-sent', caller, objectType: 'study', objectId: row.study_instance_uid, patientId, details: { criticalFindingId: row.id, channel: 'live', institutions: [row.requesting_institution_id, row.reading_institution_id], escalation: 0 } });
      tx.feed.append({ type: 'critical-finding.flagged', resourceType: 'critical-finding', resourceId: row.id, institutionId: row.requesting_institution_id, payload: { requestId: row.request_id, studyInstanceUid: row.study_instance_uid, category: row.category, readingInstitutionId: row.reading_institution_id } });
    });
    const smsStatus = await this.sendSms(caller, row, row.requesting_institution_id, patientId, 0, study);
    await this.deps.store.setSmsStatus(row.id, smsStatus);
    return (await this.views([{ ...row, sms_status: smsStatus }], { patients: true }))[0]!;
  }

  // ------------------------------------------------------------------ acknowledge

  /** Someone at the requesting institution acknowledges the alert and says how the clinician was told. */
  async acknowledge(caller: Caller, id: string, input: AcknowledgeInput): Promise<CriticalFindingView> {
    requirePermission(caller, 'critical:acknowledge');
    const row = await this.deps.store.find(id);
    // Another institution's finding answers like one that does not exist.
    if (!row || !this.mayView(caller, row)) throw notFound(`critical finding ${id}`);
    if (caller.institutionId !== row.requesting_institution_id) throw forbidden('only the requesting institution acknowledges a critical finding');
    if (row.status !== 'open') throw conflict('CRITICAL_FINDING_ACKNOWLEDGED', `the critical finding was acknowledged by ${row.received_by ?? row.acknowledged_by ?? 'someone'}`);
    const now = new Date();
    const informedAt = input.informedAt ? new Date(input.informedAt) : now;
    if (Number.isNaN(informedAt.getTime()) || informedAt.getTime() > now.getTime() + FUTURE_TOLERANCE_MS || informedAt.getTime() < Date.parse(row.flagged_at) - FUTURE_TOLERANCE_MS) {
      throw badRequest('CRITICAL_INFORMED_AT_INVALID', 'informedAt must lie between the flag and now');
    }
    const set = {
      acknowledged_by: caller.name,
      received_by: input.receivedBy.trim(),
      informed_via: input.informedVia,
      clinician_name: input.clinicianName?.trim() || null,
      informed_at: informedAt.toISOString(),
      acknowledged_at: now.toISOString(),
      ack_note: input.note?.trim() || null,
    };
    const study = await this.deps.index.studyRow(row.study_instance_uid);
    const acknowledged = await this.deps.unitOfWork.run(async (tx) => {
      if (!(await tx.open(this.deps.opener).acknowledge(row.id, set))) return false;
      const done = { ...row, ...set, status: 'acknowledged' };
      tx.audit.record({ action: 'critical-finding.acknowledged', caller, objectType: 'study', objectId: row.study_instance_uid, patientId: study?.patient_id ?? undefined, details: { criticalFindingId: row.id, requestId: row.request_id, receivedBy: set.received_by, informedVia: set.informed_via, clinicianName: set.clinician_name, informedAt: set.informed_at, secondsToAcknowledge: secondsBetween(row.flagged_at, set.acknowledged_at) } });
      this.alert(tx, done, CRITICAL_ACKNOWLEDGED, [row.requesting_institution_id, row.reading_institution_id]);
      tx.feed.append({ type: 'critical-finding.acknowledged', resourceType: 'critical-finding', resourceId: row.id, institutionId: row.requesting_institution_id, payload: { requestId: row.request_id, informedVia: set.informed_via, secondsToAcknowledge: secondsBetween(row.flagged_at, set.acknowledged_at) } });
      return true;
    });
    if (!acknowledged) {
      const current = await this.deps.store.find(id);
      throw conflict('CRITICAL_FINDING_ACKNOWLEDGED', `the critical finding was acknowledged by ${current?.received_by ?? current?.acknowledged_by ?? 'someone'}`);
    }
    return (await this.views([{ ...row, ...set, status: 'acknowledged' }], { patients: true }))[0]!;
  }

  // ------------------------------------------------------------------ escalation

  /**
   * The sweep (escalation-sweep.ts), in every process: each open finding whose last alert is
   * older than the escalation time is escalated once, by a conditional update, so whichever
   * process gets there first does it. Escalating alerts the requesting institution again
   * (banner, SMS) and tells the reading centre (its screens, and its number when one is set).
   */
  async escalateDue(now = Date.now()): Promise<number> {
    const before = new Date(now - this.options.escalateAfterMs).toISOString();
    let escalated = 0;
    for (const row of await this.deps.store.dueForEscalation(before, this.options.maxEscalations, 200)) {
      const at = new Date(now).toISOString();
      const level = row.escalations + 1;
      const study = await this.deps.index.studyRow(row.study_instance_uid);
      const patientId = study?.patient_id ?? undefined;
      const system: Caller = { kind: 'system', name: 'critical-finding-escalation', institutionId: row.reading_institution_id, role: 'administrator', visibleInstitutionIds: 'all', via: 'system' };
      const won = await this.deps.unitOfWork.run(async (tx) => {
        if (!(await tx.open(this.deps.opener).escalate(row.id, row.escalations, at))) return false;
        const updated = { ...row, escalations: level, last_alerted_at: at, escalated_at: row.escalated_at ?? at };
        const minutesOpen = Math.round((now - Date.parse(row.flagged_at)) / 60_000);
        tx.audit.record({ action: 'critical-finding.escalated', caller: system, objectType: 'study', objectId: row.study_instance_uid, patientId, details: { criticalFindingId: row.id, requestId: row.request_id, escalation: level, minutesUnacknowledged: minutesOpen, notified: [row.requesting_institution_id, row.reading_institution_id] } });
        this.alert(tx, updated, CRITICAL_ESCALATED, [row.requesting_institution_id, row.reading_institution_id]);
        tx.audit.record({ action: 'critical-finding.alert-sent', caller: system, objectType: 'study', objectId: row.study_instance_uid, patientId, details: { criticalFindingId: row.id, channel: 'live', institutions: [row.requesting_institution_id, row.reading_institution_id], escalation: level } });
        tx.feed.append({ type: 'critical-finding.escalated', resourceType: 'critical-finding', resourceId: row.id, institutionId: row.requesting_institution_id, payload: { requestId: row.request_id, escalation: level, readingInstitutionId: row.reading_institution_id } });
        return true;
      });
      if (!won) continue;
      escalated += 1;
      await this.sendSms(system, row, row.requesting_institution_id, patientId, level, study);
      await this.sendSms(system, row, row.reading_institution_id, patientId, level, study, true);
    }
    return escalated;
  }

  // ------------------------------------------------------------------ reads

  async ofRequest(caller: Caller, requestId: string): Promise<CriticalFindingView[]> {
    requirePermission(caller, 'critical:read');
    const request = await this.visibleRequest(caller, requestId);
    const rows = await this.deps.store.ofRequest(request.id);
    if (rows.length > 0) await this.deps.audit.record({ action: 'critical-finding.viewed', caller, objectType: 'study', objectId: request.study_instance_uid, details: { requestId: request.id, findings: rows.map((row) => row.id) } });
    return this.views(rows, { patients: false });
  }

  /** The findings of the caller's institution (as requester or reader), newest first; administrators see all. */
  async list(caller: Caller, input: ListInput): Promise<CriticalFindingView[]> {
    requirePermission(caller, 'critical:read');
    const rows = await this.deps.store.list({ institutionId: actsForEveryInstitution(caller) ? 'all' : caller.institutionId, status: input.status, from: input.from, to: input.to, limit: input.limit ?? 200 });
    await this.deps.audit.record({ action: 'critical-finding.listed', caller, details: { status: input.status ?? null, from: input.from ?? null, to: input.to ?? null, results: rows.length, studies: [...new Set(rows.map((row) => row.study_instance_uid))] } });
    return this.views(rows, { patients: true });
  }

  /**
   * What the report's PDF prints (reports' document supplement): the request's findings
   * with their acknowledgements, without any audit record (the PDF route records the export).
   */
  async forReportDocument(requestId: string): Promise<NonNullable<ReportDocument['criticalFindings']>> {
    const rows = await this.deps.store.ofRequest(requestId);
    return rows.map((row) => ({
      category: row.category_zh,
      note: row.note,
      flaggedBy: row.flagged_by_name ?? row.flagged_by,
      flaggedAt: row.flagged_at,
      ...(row.status === 'acknowledged' && row.acknowledged_at
        ? { acknowledgement: { receivedBy: row.received_by ?? row.acknowledged_by ?? '', informedVia: informedViaZh(row.informed_via), clinicianName: row.clinician_name ?? undefined, informedAt: row.informed_at ?? row.acknowledged_at, acknowledgedAt: row.acknowledged_at } }
        : {}),
    }));
  }

  // ------------------------------------------------------------------ helpers

  private mayView(caller: Caller, row: CriticalFindingRow): boolean {
    return actsForEveryInstitution(caller) || caller.institutionId === row.requesting_institution_id || caller.institutionId === row.reading_institution_id;
  }

  private async visibleRequest(caller: Caller, requestId: string): Promise<ReadingRequestRow> {
    const row = await this.deps.requests.findRequest(requestId);
    if (!row || !mayView(caller, row)) throw notFound(`reading request ${requestId}`);
    return row;
  }

  /** The live notifications of a change, appended in its transaction. */
  private alert(tx: TransactionPorts, row: CriticalFindingRow, type: string, institutionIds: string[]): void {
    const payload = { criticalFindingId: row.id, requestId: row.request_id, studyInstanceUid: row.study_instance_uid, category: row.category, categoryZh: row.category_zh, categoryEn: row.category_en, flaggedAt: row.flagged_at, escalations: row.escalations, status: row.status, requestingInstitutionId: row.requesting_institution_id };
    for (const change of notificationChanges(institutionIds, type, payload)) tx.feed.append(change);
  }

  /**
   * The SMS to an institution's configured critical-finding number, recorded either way:
   * 'sent', 'failed' (the provider refused or threw) or 'no-phone' (none configured).
   */
  private async sendSms(caller: Caller, row: CriticalFindingRow, institutionId: string, patientId: string | undefined, escalation: number, study: { patient_name?: string | null; accession_number?: string | null; modalities_in_study?: string | null } | undefined, toReader = false): Promise<'sent' | 'failed' | 'no-phone'> {
    const contact = await this.deps.store.contactOf(institutionId);
    const details = { criticalFindingId: row.id, institutionId, escalation, ...(contact ? { phone: maskPhone(contact.phone) } : {}) };
    if (!contact) {
      await this.deps.audit.record({ action: 'critical-finding.sms-skipped', caller, objectType: 'study', objectId: row.study_instance_uid, patientId, details: { ...details, reason: 'no critical-finding phone configured for the institution' } });
      return 'no-phone';
    }
    const patient = maskedPatientName(study?.patient_name);
    const what = `${patient}${study?.accession_number ? `（检查号 ${study.accession_number}）` : ''}`;
    const text = toReader
      ? `【云影】危急值未确认（第${escalation}次提醒）：${what}“${row.category_zh}”已上报 ${Math.round((Date.now() - Date.parse(row.flagged_at)) / 60_000)} 分钟，申请机构尚未确认，请电话联系。`
      : `【云影】危急值${escalation > 0 ? `（第${escalation}次提醒）` : ''}：${what}影像诊断危急值“${row.category_zh}”，请立即通知临床医生并登录云影确认。`;
    try {
      await this.deps.sms.send(contact.phone, text);
    } catch (error) {
      this.deps.logger?.warn({ err: error instanceof Error ? error.message : String(error), criticalFindingId: row.id }, 'critical-finding SMS failed');
      await this.deps.audit.record({ action: 'critical-finding.sms-failed', outcome: 'failure', caller, objectType: 'study', objectId: row.study_instance_uid, patientId, details });
      return 'failed';
    }
    await this.deps.audit.record({ action: 'critical-finding.sms-sent', caller, objectType: 'study', objectId: row.study_instance_uid, patientId, details });
    return 'sent';
  }

  private async views(rows: readonly CriticalFindingRow[], options: { patients: boolean }): Promise<CriticalFindingView[]> {
    const names = new Map<string, string | null>();
    const nameOf = async (id: string) => {
      if (!names.has(id)) names.set(id, (await this.deps.access.findInstitution(id))?.name ?? null);
      return names.get(id) ?? null;
    };
    const studies = new Map<string, Awaited<ReturnType<IndexStore['studyRow']>>>();
    const out: CriticalFindingView[] = [];
    for (const row of rows) {
      let patient: CriticalFindingView['patient'];
      let extra: Pick<CriticalFindingView, 'accessionNumber' | 'modality'> = {};
      if (options.patients) {
        if (!studies.has(row.study_instance_uid)) studies.set(row.study_instance_uid, await this.deps.index.studyRow(row.study_instance_uid));
        const study = studies.get(row.study_instance_uid);
        patient = { id: study?.patient_id ?? null, name: study?.patient_name ?? null, sex: study?.patient_sex ?? null };
        extra = { accessionNumber: study?.accession_number ?? null, modality: study?.modalities_in_study?.split('\\').find((m) => m !== 'SR') ?? null };
      }
      out.push({
        id: row.id,
        requestId: row.request_id,
        studyInstanceUid: row.study_instance_uid,
        requestingInstitutionId: row.requesting_institution_id,
        requestingInstitutionName: await nameOf(row.requesting_institution_id),
        readingInstitutionId: row.reading_institution_id,
        readingInstitutionName: await nameOf(row.reading_institution_id),
        category: row.category,
        categoryZh: row.category_zh,
        categoryEn: row.category_en,
        note: row.note,
        flaggedBy: row.flagged_by,
        flaggedByName: row.flagged_by_name,
        flaggedAt: row.flagged_at,
        status: row.status === 'acknowledged' ? 'acknowledged' : 'open',
        smsStatus: row.sms_status,
        escalations: row.escalations,
        lastAlertedAt: row.last_alerted_at,
        escalatedAt: row.escalated_at,
        acknowledgement:
          row.status === 'acknowledged' && row.acknowledged_at
            ? { acknowledgedBy: row.acknowledged_by ?? '', receivedBy: row.received_by ?? '', informedVia: row.informed_via ?? 'other', clinicianName: row.clinician_name, informedAt: row.informed_at ?? row.acknowledged_at, acknowledgedAt: row.acknowledged_at, note: row.ack_note }
            : null,
        secondsToAcknowledge: row.acknowledged_at ? secondsBetween(row.flagged_at, row.acknowledged_at) : null,
        ...(patient ? { patient } : {}),
        ...extra,
      });
    }
    return out;
  }
}

function secondsBetween(from: string, to: string): number {
  return Math.max(0, Math.round((Date.parse(to) - Date.parse(from)) / 1000));
}

const INFORMED_VIA_ZH: Record<string, string> = { phone: '电话', 'in-person': '当面', sms: '短信', other: '其他' };

export function informedViaZh(value: string | null): string {
  return INFORMED_VIA_ZH[value ?? 'other'] ?? value ?? '其他';
}

/** 张* / 欧阳** for an SMS: the ideographic group of the PN when there is one. */
export function maskedPatientName(name: string | null | undefined): string {
  if (!name) return '患者';
  const groups = name.split('=');
  const chosen = (groups[1] || groups[0] || '').replace(/\^/g, '');
  if (!chosen) return '患者';
  const chars = [...chosen];
  return `患者${chars[0]}${'*'.repeat(Math.max(1, chars.length - 1))}`;
}
