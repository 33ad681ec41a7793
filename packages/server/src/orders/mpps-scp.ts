/**
 * The MPPS SCP's handler (PS3.4 F.7, Modality Performed Procedure Step SOP Class): N-CREATE
 * (IN PROGRESS) and N-SET (COMPLETED, DISCONTINUED) translated to the order service, which
 * marks the scheduled steps the modality names. Only translation here: the statuses of
 * PS3.4 F.7.2.1.2 / F.7.2.2.2 for the service's outcomes.
 */
import type { DicomJsonDataset } from '@yunying/dicom';
import { DIMSE_STATUS, DimseStatusError, type MppsHandler } from '@yunying/dimse';
import type { Caller } from '../access/caller.ts';
import type { MppsStatus, OrderDomainService, PerformedStepReference } from './order-service.ts';

const PPS_STATUS = '00400252';
const SCHEDULED_STEP_ATTRIBUTES = '00400270';
const STATUSES: readonly MppsStatus[] = ['IN PROGRESS', 'COMPLETED', 'DISCONTINUED'];

function first(ds: DicomJsonDataset | undefined, tag: string): string | undefined {
  const value = ds?.[tag]?.Value?.[0];
  return typeof value === 'string' && value.trim() ? value.trim() : undefined;
}

function statusOf(dataset: DicomJsonDataset): MppsStatus | undefined {
  const status = first(dataset, PPS_STATUS);
  if (status === undefined) return undefined;
  const upper = status.toUpperCase() as MppsStatus;
  if (!STATUSES.includes(upper)) throw new DimseStatusError(DIMSE_STATUS.INVALID_ATTRIBUTE_VALUE, `Performed Procedure Step Status ${status.slice(0, 20)} is not IN PROGRESS, COMPLETED or DISCONTINUED`);
  return upper;
}

/** The Scheduled Step Attributes Sequence: the steps (study, accession, step ID) the performed step reports on. */
function referencesOf(dataset: DicomJsonDataset): PerformedStepReference[] {
  const items = (dataset[SCHEDULED_STEP_ATTRIBUTES]?.Value ?? []) as DicomJsonDataset[];
  return items.map((item) => ({
    studyInstanceUid: first(item, '0020000D'),
    accessionNumber: first(item, '00080050'),
    scheduledProcedureStepId: first(item, '00400009'),
    requestedProcedureId: first(item, '00401001'),
  }));
}

export function mppsHandler(orders: Pick<OrderDomainService, 'startPerformedStep' | 'updatePerformedStep'>): MppsHandler<Caller> {
  return {
    async create(caller, request) {
      const status = statusOf(request.dataset);
      if (status === undefined) throw new DimseStatusError(DIMSE_STATUS.MISSING_ATTRIBUTE, 'Performed Procedure Step Status is missing');
      // PS3.4 F.7.2.1.2: an N-CREATE starts the step; it is created IN PROGRESS only
      if (status !== 'IN PROGRESS') throw new DimseStatusError(DIMSE_STATUS.INVALID_ATTRIBUTE_VALUE, 'an MPPS is created IN PROGRESS');
      const outcome = await orders.startPerformedStep(caller, { sopInstanceUid: request.sopInstanceUid, references: referencesOf(request.dataset), attributes: request.dataset });
      if (outcome === 'duplicate') throw new DimseStatusError(DIMSE_STATUS.DUPLICATE_SOP_INSTANCE, 'An MPPS with this SOP Instance UID exists');
    },
    async set(caller, request) {
      const outcome = await orders.updatePerformedStep(caller, { sopInstanceUid: request.sopInstanceUid, status: statusOf(request.dataset), attributes: request.dataset });
      if (outcome === 'no-such-instance') throw new DimseStatusError(DIMSE_STATUS.NO_SUCH_SOP_INSTANCE, 'No such MPPS instance');
      // PS3.4 F.7.2.2.2: once COMPLETED or DISCONTINUED, the object may no longer be updated
      if (outcome === 'final') throw new DimseStatusError(DIMSE_STATUS.PROCESSING_FAILURE, 'Performed Procedure Step may no longer be updated');
    },
  };
}
