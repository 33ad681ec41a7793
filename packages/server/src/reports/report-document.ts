/**
 * A report as the delivery formats see it (PDF, DICOM SR, FHIR DiagnosticReport): everything
 * needed to render it, independent of how reading requests and reports are stored.
 */
export interface ReportDocument {
  /** a remote-diagnosis report (the default) or a consultation's conclusion (consult/): the headings differ */
  kind?: 'reading' | 'consultation';
  reportId: string;
  /** 1, 2, …: addenda make new versions; every version is kept */
  version: number;
  /** 报告编号 (KS-COUNTY-2026-000123, reports/report-number.ts); absent: the report's id is shown */
  reportNumber?: string;
  /** 第 N 版 as readers count it: the signature 1, each addendum +1 (version also counts submissions and returns) */
  issuedVersion?: number;
  status: 'signed' | 'amended';
  studyInstanceUid: string;
  accessionNumber?: string;
  patient: {
    id?: string;
    /** IssuerOfPatientID of the study: with institutionId, whose number id is */
    issuerOfPatientId?: string;
    /** the institution holding the study, which issued the Patient ID */
    institutionId?: string;
    /** DICOM PN as decoded, e.g. "Wang^XiaoDong=王^小东=" */
    name?: string;
    sex?: string;
    /** YYYYMMDD */
    birthDate?: string;
  };
  /** YYYYMMDD and HHMMSS of the study */
  studyDate?: string;
  studyTime?: string;
  modality?: string;
  studyDescription?: string;
  bodyParts: string[];
  clinicalHistory?: string;
  /** 影像所见 */
  findings: string;
  /** 诊断意见 */
  impression: string;
  positive: boolean;
  /** the township (or other) institution that asked for the read */
  requestingInstitution: { id: string; name: string };
  /** the diagnostic centre whose header the PDF carries */
  readingInstitution: { id: string; name: string };
  /** user names and display names */
  author: { username: string; displayName?: string };
  reviewer?: { username: string; displayName?: string };
  submittedAt?: string;
  signedAt: string;
  /** addenda after signing, oldest first */
  addenda: Array<{ text: string; author: { username: string; displayName?: string }; at: string }>;
  /** the cloud-film link for the QR code; a placeholder until cloud film exists */
  shareUrl?: string;
  /**
   * The link asks for an access code. Only its hash is stored (share/), so the code itself
   * cannot be printed: the PDF says one is needed and that it is given separately (SMS).
   */
  shareAccessCodeRequired?: boolean;
  /**
   * 危急值 flagged on the request (critical-findings/, through ReportDelivery.addSupplement),
   * each with its acknowledgement by the requesting institution once there is one
   */
  criticalFindings?: Array<{
    /** the category's Chinese name, e.g. 急性脑出血 */
    category: string;
    note: string;
    /** display name of the radiologist who flagged it */
    flaggedBy: string;
    flaggedAt: string;
    acknowledgement?: { receivedBy: string; informedVia: string; clinicianName?: string; informedAt: string; acknowledgedAt: string };
  }>;
}

/** The headings a document prints (PDF) and shows (FHIR narrative), by kind. */
export interface DocumentLabels {
  title: string;
  findings: string;
  impression: string;
  author: string;
  reviewer: string;
}

const LABELS: Record<NonNullable<ReportDocument['kind']>, DocumentLabels> = {
  reading: { title: '远程影像诊断报告', findings: '影像所见', impression: '诊断意见', author: '报告医师', reviewer: '审核医师' },
  // 会诊意见书: each expert's signed opinion, then the lead expert's conclusion (会诊意见)
  consultation: { title: '远程会诊意见书', findings: '专家意见', impression: '会诊意见', author: '牵头专家', reviewer: '申请医师' },
};

export function documentLabels(document: Pick<ReportDocument, 'kind'>): DocumentLabels {
  return LABELS[document.kind ?? 'reading'];
}
