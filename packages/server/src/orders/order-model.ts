/**
 * Orders (检查申请/预约, issue 15 items 7 and 8): what a township's modality is asked to do
 * for a patient, before any image exists. An order is made through the REST API, FHIR
 * ServiceRequest or an HL7 ORM^O01 (hl7/), all through OrderService; the modality reads it
 * from the Modality Worklist (C-FIND), reports its progress by MPPS (N-CREATE / N-SET), and
 * when its images arrive the order is linked to their study and becomes a reading request
 * (远程诊断申请). The link is made within the order's institution, by the pre-assigned Study
 * Instance UID or by accession number and Patient ID: never on a bare Patient ID across
 * institutions (a Patient ID is only unique at the institution that issued it).
 *
 * This file is the contract other modules code against (hl7/, fhir/): the inputs, the view
 * and the service interface. The implementation is order-service.ts.
 */
import type { Caller } from '../access/caller.ts';
import type { Priority } from '../reading/sla.ts';

/** The order as a whole. */
export const ORDER_STATUSES = ['scheduled', 'in-progress', 'completed', 'discontinued', 'cancelled'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/** A scheduled procedure step (PS3.4 K / F.7: what MPPS reports against). */
export const STEP_STATUSES = ['scheduled', 'in-progress', 'completed', 'discontinued'] as const;
export type StepStatus = (typeof STEP_STATUSES)[number];

/** Where an order came from (recorded on the order and in the audit trail). */
export type OrderSource = 'rest' | 'fhir' | 'hl7';

export interface OrderPatientInput {
  /** the Patient ID as the ordering institution issued it (0010,0020) */
  patientId: string;
  /** (0010,0021) Issuer of Patient ID; absent: the institution's own */
  issuerOfPatientId?: string;
  /**
   * the name as DICOM PN: '张三', 'Zhang^San' or 'Zhang^San=张^三' (alphabetic=ideographic).
   * A hanzi-only name gets its pinyin alphabetic group added for modalities that show Latin only.
   */
  name: string;
  /** M, F or O */
  sex?: 'M' | 'F' | 'O';
  /** YYYYMMDD or YYYY-MM-DD */
  birthDate?: string;
  /** 身份证号 (18 characters); never sent on the worklist, kept for the patient index */
  nationalId?: string;
}

export interface CodedConcept {
  /** (0008,0100) Code Value */
  value: string;
  /** (0008,0102) Coding Scheme Designator; default '99YUNYING' (local) */
  scheme?: string;
  /** (0008,0104) Code Meaning */
  meaning?: string;
}

export interface RequestedProcedureInput {
  /** (0040,1001) Requested Procedure ID; default: the accession number */
  id?: string;
  /** (0032,1060) Requested Procedure Description, e.g. '胸部CT平扫' */
  description: string;
  /** (0032,1064) Requested Procedure Code Sequence */
  code?: CodedConcept;
  /** CT, DX, US, MR, … */
  modality: string;
  /** body part (部位), e.g. CHEST */
  bodyPart?: string;
}

export interface ProcedureStepInput {
  /** (0040,0009) Scheduled Procedure Step ID; default: generated */
  id?: string;
  /** (0040,0001) Scheduled Station AE Title: the modality that should do it; absent: any of the institution */
  stationAeTitle?: string;
  /** default: the requested procedure's */
  modality?: string;
  /** (0040,0002/0003) start, ISO 8601 date-time (local time of the platform's zone when without offset); default now */
  startDateTime?: string;
  /** (0040,0006) Scheduled Performing Physician's Name (PN) */
  performingPhysician?: string;
  /** (0040,0007) Scheduled Procedure Step Description; default the procedure's description */
  description?: string;
}

export interface CreateOrderInput {
  /** the ordering institution; only callers acting for every institution (administrators, HL7 system callers) may name another than their own */
  institutionId?: string;
  patient: OrderPatientInput;
  /** (0008,0050), at most 16 characters; generated when absent; unique per institution */
  accessionNumber?: string;
  /** the HIS's order number (HL7 ORC-2 / OBR-2, FHIR ServiceRequest.identifier); unique per institution when given */
  placerOrderNumber?: string;
  requestedProcedure: RequestedProcedureInput;
  /** at least one; default one step from the requested procedure */
  steps?: ProcedureStepInput[];
  /** (0008,0090) Referring Physician's Name (PN) */
  referringPhysician?: string;
  /** the reading priority the request gets [routine] */
  priority?: Priority;
  /** (0040,1002) Reason for the Requested Procedure / clinical history, carried to the reading request */
  reason?: string;
  /** the diagnostic centre that reads it; default the one serving the institution */
  readingInstitutionId?: string;
  source?: OrderSource;
}

export interface ProcedureStepView {
  id: string;
  stationAeTitle: string | null;
  modality: string;
  /** ISO instant */
  startDateTime: string;
  performingPhysician: string | null;
  description: string;
  status: StepStatus;
  /** the MPPS instance that reported on it, when one did */
  mppsInstanceUid: string | null;
  updatedAt: string;
}

export interface OrderView {
  id: string;
  institutionId: string;
  status: OrderStatus;
  source: OrderSource;
  accessionNumber: string;
  placerOrderNumber: string | null;
  patient: { patientId: string; issuerOfPatientId: string | null; name: string; sex: string | null; birthDate: string | null; nationalId: string | null };
  requestedProcedure: { id: string; description: string; code: CodedConcept | null; modality: string; bodyPart: string | null };
  /** pre-assigned (0020,000D): the modality takes it from the worklist, so the images link back */
  studyInstanceUid: string;
  referringPhysician: string | null;
  priority: Priority;
  reason: string | null;
  readingInstitutionId: string | null;
  steps: ProcedureStepView[];
  /** the reading request the order became once its images arrived */
  readingRequestId: string | null;
  /** the study its images were stored in (the pre-assigned UID, or the modality's own when it ignored it) */
  linkedStudyInstanceUid: string | null;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  cancelReason: string | null;
}

export interface OrderFilter {
  status?: OrderStatus;
  patientId?: string;
  accessionNumber?: string;
  placerOrderNumber?: string;
  modality?: string;
  /** scheduled start bounds, ISO */
  from?: string;
  to?: string;
  /** administrators: one institution; others always see their own */
  institutionId?: string;
  limit?: number;
}

/**
 * The order service other modules use (`ctx.services.get(ORDERS)`, orders/module.ts). Every
 * call takes the caller and applies its scope: an order belongs to one institution, and
 * only that institution's technologists and clinicians (or administrators) see and change it.
 * Errors are YunyingErrors (codes ORDER_*, errors/catalog.ts).
 */
export interface OrderService {
  /** ORDER_EXISTS (409) when the accession number or placer order number is taken at the institution */
  createOrder(caller: Caller, input: CreateOrderInput): Promise<OrderView>;
  /** 404 when absent or not the caller's */
  getOrder(caller: Caller, id: string): Promise<OrderView>;
  listOrders(caller: Caller, filter: OrderFilter): Promise<OrderView[]>;
  /** the order with that placer order number at the institution (HL7 ORC-2), if any */
  findByPlacerOrderNumber(caller: Caller, institutionId: string, placerOrderNumber: string): Promise<OrderView | undefined>;
  /** cancelled before acquisition, or discontinued while in progress; ORDER_NOT_CANCELLABLE once completed */
  cancelOrder(caller: Caller, id: string, reason?: string): Promise<OrderView>;
}
