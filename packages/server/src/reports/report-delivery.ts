import { primaryImageModality } from '@yunying/dicom';
import type { ArchiveService } from '../archive/archive-service.ts';
import type { AccessStore } from '../store/access-store.ts';
import type { ReadingRequestRow, ReadingStore, ReportRow } from '../store/reading-store.ts';
import type { IndexStore } from '../store/index-store.ts';
import type { ReportDocument } from './report-document.ts';
import { buildReportSr } from './report-sr.ts';
import { issuedVersionOf } from './report-number.ts';
import type { SignedReportDelivery } from './report-service.ts';

/** Fields a later module adds to a report's document, e.g. `criticalFindings`. */
type StudyRow = NonNullable<Awaited<ReturnType<IndexStore['studyRow']>>>;

/** What a report document takes from its study's row: the patient (with the issuer and institution of the Patient ID) and the exam. */
export function studyPartOfDocument(study: StudyRow | undefined): Pick<ReportDocument, 'accessionNumber' | 'patient' | 'studyDate' | 'studyTime' | 'studyDescription'> {
  const orUndefined = (value: string | null | undefined) => value ?? undefined;
  return {
    accessionNumber: orUndefined(study?.accession_number),
    patient: {
      id: orUndefined(study?.patient_id),
      issuerOfPatientId: orUndefined(study?.issuer_of_patient_id),
      institutionId: orUndefined(study?.institution_id),
      name: orUndefined(study?.patient_name),
      sex: orUndefined(study?.patient_sex),
      birthDate: orUndefined(study?.patient_birth_date),
    },
    studyDate: orUndefined(study?.study_date),
    studyTime: orUndefined(study?.study_time),
    studyDescription: orUndefined(study?.study_description),
  };
}

export type ReportDocumentSupplement = (request: ReadingRequestRow, document: ReportDocument) => Promise<Partial<ReportDocument>>;

export interface ReportDeliveryDependencies {
  store: ReadingStore;
  access: AccessStore;
  index: IndexStore;
  archive: ArchiveService;
  timeZone: string;
  /** the patient's cloud-film link of a signed report, made at signing unless switched off (share/) */
  patientLink?: (studyInstanceUid: string, reportId: string, institutionId: string) => Promise<{ url: string; hasAccessCode?: boolean } | undefined>;
  /** a signer's signature image (PNG) for the PDF, when one is configured (reports/signatures.ts) */
  signatureOf?: (username: string) => Promise<Buffer | undefined>;
}

/**
 * Turns a signed report into what leaves the platform: the ReportDocument that the PDF,
 * the DICOM SR and the FHIR DiagnosticReport are made from, and the SR stored with the
 * study through the one ingest pipeline (so it is retrievable by WADO-RS and C-MOVE).
 */
export class ReportDelivery implements SignedReportDelivery {
  private readonly deps: ReportDeliveryDependencies;
  constructor(deps: ReportDeliveryDependencies) {
    this.deps = deps;
  }

  /** What modules listed after reports add to every document (critical-findings: the 危急值 and their acknowledgements). */
  private readonly supplements: ReportDocumentSupplement[] = [];

  addSupplement(supplement: ReportDocumentSupplement): void {
    this.supplements.push(supplement);
  }

  async documentFor(request: ReadingRequestRow, report: ReportRow): Promise<ReportDocument> {
    const document = await this.baseDocumentFor(request, report);
    for (const supplement of this.supplements) Object.assign(document, await supplement(request, document));
    return document;
  }

  private async baseDocumentFor(request: ReadingRequestRow, report: ReportRow): Promise<ReportDocument> {
    const [study, requesting, reading, author, reviewer, versions] = await Promise.all([
      this.deps.index.studyRow(request.study_instance_uid),
      this.deps.access.findInstitution(request.requesting_institution_id),
      this.deps.access.findInstitution(request.reading_institution_id),
      this.deps.access.findUserByName(report.author),
      report.reviewer ? this.deps.access.findUserByName(report.reviewer) : Promise.resolve(undefined),
      this.deps.store.versions(report.id),
    ]);
    const addenda = [];
    for (const version of versions.filter((v) => v.kind === 'addendum' && v.addendum)) {
      const user = await this.deps.access.findUserByName(version.saved_by);
      addenda.push({ text: version.addendum!, author: { username: version.saved_by, displayName: user?.display_name ?? undefined }, at: version.saved_at });
    }
    const orUndefined = (value: string | null | undefined) => value ?? undefined;
    // the PDF's QR code; without a link it prints a placeholder
    const link = report.status === 'signed' && this.deps.patientLink ? await this.deps.patientLink(request.study_instance_uid, report.id, study?.institution_id ?? request.requesting_institution_id) : undefined;
    return {
      reportId: report.id,
      version: report.version,
      ...(report.report_number ? { reportNumber: report.report_number } : {}),
      issuedVersion: issuedVersionOf(versions),
      status: addenda.length > 0 ? 'amended' : 'signed',
      studyInstanceUid: request.study_instance_uid,
      ...studyPartOfDocument(study),
      modality: orUndefined(request.modality ?? primaryImageModality(study?.modalities_in_study)),
      bodyParts: JSON.parse(request.body_parts) as string[],
      clinicalHistory: orUndefined(request.clinical_history),
      findings: report.findings,
      impression: report.impression,
      positive: report.positive === 1,
      requestingInstitution: { id: request.requesting_institution_id, name: requesting?.name ?? request.requesting_institution_id },
      readingInstitution: { id: request.reading_institution_id, name: reading?.name ?? request.reading_institution_id },
      author: { username: report.author, displayName: orUndefined(author?.display_name) },
      reviewer: report.reviewer ? { username: report.reviewer, displayName: orUndefined(reviewer?.display_name) } : undefined,
      submittedAt: orUndefined(report.submitted_at),
      signedAt: report.signed_at ?? report.updated_at,
      addenda,
      shareUrl: link?.url,
      shareAccessCodeRequired: link?.hasAccessCode ? true : undefined,
    };
  }

  /** The signature images of the document's author and reviewer that are configured, by username. */
  async signaturesFor(document: ReportDocument): Promise<Map<string, Buffer>> {
    const signatures = new Map<string, Buffer>();
    if (!this.deps.signatureOf) return signatures;
    for (const username of new Set([document.author.username, document.reviewer?.username].filter((name): name is string => Boolean(name)))) {
      const png = await this.deps.signatureOf(username);
      if (png) signatures.set(username, png);
    }
    return signatures;
  }

  async storeStructuredReport(request: ReadingRequestRow, report: ReportRow): Promise<string | undefined> {
    const study = await this.deps.index.studyRow(request.study_instance_uid);
    if (!study) return undefined;
    const document = await this.documentFor(request, report);
    const predecessor = report.sr_sop_instance_uid ? await this.deps.index.findInstance(report.sr_sop_instance_uid) : undefined;
    const sr = buildReportSr(
      document,
      {
        studyInstanceUid: study.study_instance_uid,
        patientId: study.patient_id ?? undefined,
        patientName: study.patient_name ?? undefined,
        patientBirthDate: study.patient_birth_date ?? undefined,
        patientSex: study.patient_sex ?? undefined,
        accessionNumber: study.accession_number ?? undefined,
        studyDate: study.study_date ?? undefined,
        studyTime: study.study_time ?? undefined,
        studyId: study.study_id ?? undefined,
        referringPhysicianName: study.referring_physician_name ?? undefined,
        studyDescription: study.study_description ?? undefined,
      },
      { timeZone: this.deps.timeZone, ...(predecessor ? { seriesInstanceUid: predecessor.series_instance_uid, predecessor: { sopInstanceUid: predecessor.sop_instance_uid, seriesInstanceUid: predecessor.series_instance_uid } } : {}) },
    );
    // Filed under the study's own institution, as if its modality had sent it.
    const caller = { kind: 'system' as const, name: `report:${report.id}`, institutionId: study.institution_id, role: 'administrator' as const, visibleInstitutionIds: 'all' as const, via: 'system' as const };
    await this.deps.archive.ingest(caller, { kind: 'part10', bytes: sr.bytes });
    return sr.sopInstanceUid;
  }
}
