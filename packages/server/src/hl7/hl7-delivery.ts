import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { systemCaller, type Caller } from '../access/caller.ts';
import type { AuditRecorder } from '../access/audit-event.ts';
import type { FeedChange, FeedConsumer } from '../feed/change.ts';
import type { OrderService, OrderView } from '../orders/order-model.ts';
import type { ReportAddendum } from '../reports/reports-port.ts';
import type { ReadingRequestRow, ReportRow } from '../store/reading-store.ts';
import type { StudyRow } from '../store/index-store.ts';
import type { Hl7DestinationTable, Hl7OutboundTable, Hl7Store } from './hl7-store.ts';
import { sendMllp } from './mllp-client.ts';
import { buildOru } from './oru.ts';

export interface Hl7DeliveryDeps {
  store: Hl7Store;
  /** the signed report and its request (reports/ReportService.reportForDelivery) */
  reportOf(caller: Caller, reportId: string): Promise<{ report: ReportRow; request: ReadingRequestRow }>;
  addendaOf(reportId: string): Promise<ReportAddendum[]>;
  studyOf(studyInstanceUid: string): Promise<StudyRow | undefined>;
  /** when the orders module is there: the order the study was made for (placer number, procedure code) */
  orders?: OrderService;
  displayNameOf(username: string): Promise<string | undefined>;
  audit: AuditRecorder;
  timeZone: string;
  logger: Logger;
  send?: typeof sendMllp;
}

/** The consumer's caller: reads across institutions, for the delivery of what was signed. */
const DELIVERY: Caller = systemCaller('hl7-delivery');

/**
 * ORU^R01 out (issue 15 item 8): for each signature and addendum, the report goes to every
 * HL7 destination the requesting institution has, and is sent again until each answers AA.
 * A change-feed consumer: the feed's backoff (1 s, 4 s, 16 s … at most 10 min) paces the
 * resends, and hl7_outbound keeps each destination's state, so a destination that has
 * acknowledged is not sent the message again when another one is still failing. The
 * message's MSH-10 stays the same across resends.
 */
export function hl7DeliveryConsumer(delivery: Hl7Delivery): FeedConsumer {
  return {
    group: 'hl7-oru',
    types: ['report.signed', 'report.addendum'],
    // about 8 hours of resends at the 10-minute pause before a dead letter (yunying feed requeue)
    retry: { maxAttempts: 60 },
    handle: (change) => delivery.deliver(change),
  };
}

export class Hl7Delivery {
  private readonly deps: Hl7DeliveryDeps;

  constructor(deps: Hl7DeliveryDeps) {
    this.deps = deps;
  }

  async deliver(change: FeedChange): Promise<void> {
    const institutionId = change.institutionId;
    if (!institutionId) return;
    const destinations = await this.deps.store.destinations(institutionId);
    if (destinations.length === 0) return;
    const { report, request } = await this.deps.reportOf(DELIVERY, change.resourceId);
    if (report.status !== 'signed') return;
    const version = Number(change.payload.version ?? report.version);
    const failures: string[] = [];
    for (const destination of destinations) {
      const row = await this.deps.store.ensureOutbound({
        id: randomUUID(),
        report_id: report.id,
        report_version: version,
        institution_id: institutionId,
        destination_id: destination.id,
        destination: `${destination.host}:${destination.port}`,
        study_instance_uid: request.study_instance_uid,
        message_control_id: randomUUID().replaceAll('-', '').slice(0, 20),
        result_status: change.type === 'report.addendum' ? 'C' : 'F',
        status: 'pending',
        attempts: 0,
        last_ack_code: null,
        last_error: null,
        created_at: new Date().toISOString(),
        updated_at: new Date().toISOString(),
        acknowledged_at: null,
      });
      if (row.status === 'acknowledged') continue;
      const failure = await this.sendOne(row, destination, report, request);
      if (failure) failures.push(`${row.destination}: ${failure}`);
    }
    // The feed hands the change over again after its pause; the acknowledged ones are skipped then.
    if (failures.length > 0) throw new Error(`ORU^R01 of report ${report.id} v${version} not acknowledged: ${failures.join('; ')}`);
  }

  private async sendOne(row: Hl7OutboundTable, destination: Hl7DestinationTable, report: ReportRow, request: ReadingRequestRow): Promise<string | undefined> {
    const message = await this.messageOf(row, destination, report, request);
    let ackCode: string | null = null;
    let error: string | null = null;
    try {
      const ack = await (this.deps.send ?? sendMllp)(destination, message.text);
      ackCode = ack.get('MSA-1').toUpperCase() || null;
      if (ackCode !== 'AA' && ackCode !== 'CA') error = `ACK ${ackCode ?? '(none)'}: ${ack.get('MSA-3') || ack.get('ERR-8') || ack.get('ERR-3.2') || 'no reason given'}`.slice(0, 500);
      if (ack.get('MSA-2') && ack.get('MSA-2') !== row.message_control_id) error = `the ACK is for message ${ack.get('MSA-2')}, not ${row.message_control_id}`;
    } catch (failure) {
      error = (failure as Error).message.slice(0, 500);
    }
    const at = new Date().toISOString();
    await this.deps.store.recordAttempt(row.id, { ackCode, error, acknowledged: error === null, at });
    // The report left the platform (to the HIS), whatever the answer: on the trail with its outcome.
    await this.deps.audit.record({
      action: 'hl7.report-sent',
      outcome: error === null ? 'success' : 'failure',
      caller: DELIVERY,
      objectType: 'study',
      objectId: request.study_instance_uid,
      patientId: message.patientId ?? undefined,
      details: { reportId: report.id, version: row.report_version, destination: row.destination, controlId: row.message_control_id, ackCode, ...(error ? { error } : {}) },
    });
    if (error) this.deps.logger.warn({ reportId: report.id, destination: row.destination, ackCode }, `hl7: ORU^R01 not acknowledged: ${error}`);
    return error ?? undefined;
  }

  private async messageOf(row: Hl7OutboundTable, destination: Hl7DestinationTable, report: ReportRow, request: ReadingRequestRow): Promise<{ text: string; patientId: string | null }> {
    const study = await this.deps.studyOf(request.study_instance_uid);
    const order = await this.orderOf(study, request.requesting_institution_id);
    const signer = report.reviewer ?? report.author;
    const facilities = await this.deps.store.facilitiesOf(request.requesting_institution_id);
    const addenda = row.result_status === 'C' ? await this.deps.addendaOf(report.id) : [];
    const patientId = study?.patient_id ?? order?.patient.patientId ?? null;
    const text = buildOru({
      controlId: row.message_control_id,
      sendingFacility: request.reading_institution_id,
      receivingApplication: destination.receiving_application,
      receivingFacility: destination.receiving_facility || facilities[0]?.facility || request.requesting_institution_id,
      timeZone: this.deps.timeZone,
      patient: {
        id: patientId ?? '',
        issuer: study?.issuer_of_patient_id ?? order?.patient.issuerOfPatientId ?? null,
        name: study?.patient_name ?? order?.patient.name ?? null,
        birthDate: study?.patient_birth_date ?? order?.patient.birthDate?.replaceAll('-', '') ?? null,
        sex: study?.patient_sex ?? order?.patient.sex ?? null,
      },
      accessionNumber: study?.accession_number ?? order?.accessionNumber ?? null,
      placerOrderNumber: order?.placerOrderNumber ?? null,
      procedure: order?.requestedProcedure.code
        ? { code: order.requestedProcedure.code.value, text: order.requestedProcedure.description, scheme: order.requestedProcedure.code.scheme ?? null }
        : { code: null, text: order?.requestedProcedure.description ?? study?.study_description ?? null, scheme: null },
      modality: order?.requestedProcedure.modality ?? request.modality ?? study?.modalities_in_study?.split('\\')[0] ?? null,
      studyDate: study?.study_date ? `${study.study_date}${study.study_time?.slice(0, 6) ?? ''}` : null,
      report: {
        findings: report.findings,
        impression: report.impression,
        signedAt: report.signed_at,
        signer: (await this.deps.displayNameOf(signer)) ?? signer,
        reportNumber: report.report_number ?? null,
        addenda,
      },
      resultStatus: row.result_status === 'C' ? 'C' : 'F',
    });
    return { text, patientId };
  }

  /** The order of the study's accession number at the requesting institution, if the orders module has one. */
  private async orderOf(study: StudyRow | undefined, institutionId: string): Promise<OrderView | undefined> {
    if (!this.deps.orders || !study?.accession_number) return undefined;
    try {
      const [order] = await this.deps.orders.listOrders(DELIVERY, { accessionNumber: study.accession_number, institutionId, limit: 1 });
      return order;
    } catch (error) {
      this.deps.logger.warn({ err: error }, 'hl7: the order of a report could not be read');
      return undefined;
    }
  }
}
