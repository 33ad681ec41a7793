import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { buildPart10Header, DicomParseError, findInvalidUids, isValidUid, parseDicom, readIndexAttributes, toDicomJson, type DicomJsonDataset, type DicomJsonElement, type IndexAttributes, type ParsedDicom } from '@yunying/dicom';
import { studyScopeOf, type Caller } from '../access/caller.ts';
import { YunyingError } from '../errors.ts';
import type { BlobStore, BlobWrite } from '../store/blob-store.ts';
import type { CommitInstanceInput, CommitOutcome, IndexStore } from '../store/index-store.ts';
import type { TransactionPorts, UnitOfWork } from '../store/unit-of-work.ts';
import type { IngestInput, IngestResult, StagedFile } from './archive-service.ts';
import { sameDatasetAsStored } from './duplicate-detection.ts';
import { compressReceived, type IngestCompression } from './ingest-compression.ts';
import { personNameBigrams, personNameIndexColumns, personNameSearchGroups, personNameSearchText } from './matching.ts';
import { personNamePinyinText } from './pinyin.ts';
import { QUERYABLE_SEQUENCE_MAX_CHARS, QUERYABLE_SEQUENCES, SERIES_ATTRIBUTE_GROUPS, STUDY_ATTRIBUTE_GROUPS } from './attribute-catalog.ts';

export interface IngestDependencies {
  index: IndexStore;
  blobs: BlobStore;
  /** the index commit, with the instance's audit record and feed row */
  unitOfWork: UnitOfWork;
  /** told after commit, for events and logs */
  onStored?: (result: IngestResult, caller: Caller) => void;
  /** compression on ingest, when an administrator chose it (ingest-compression.ts); absent: stored as received */
  compression?: IngestCompression;
}

/**
 * The one ingest pipeline (design.md "Orthanc's split"): parse the header without decoding
 * pixel data, attribute to the caller's institution, write the blob durably, then commit the
 * index in one transaction. The blob is removed if the commit fails, and an acknowledged
 * instance is in both the blob store and the index.
 *
 * Policy for an existing SOP Instance UID (docs/adr/0002-duplicate-sop-instances.md):
 * the same data set (identical bytes, or the same data set under another file meta group:
 * an identical resend from another AE) → "duplicate", nothing changes; a different data set
 * in the same study and series → "replaced" (a modality resending a corrected object);
 * different study or series → refused with DUPLICATE_SOP_INSTANCE (409 / C-STORE 0xC111),
 * the stored object is kept.
 */
export async function ingestInstance(deps: IngestDependencies, caller: Caller, input: IngestInput): Promise<IngestResult> {
  if (!('file' in input)) return ingestDecoded(deps, caller, input, await decodeInput(input));
  try {
    return await ingestDecoded(deps, caller, input, await decodeInput(input));
  } finally {
    await rm(input.file.path, { force: true }); // taken over: gone whatever happened (moved into the store, or not stored)
  }
}

async function ingestDecoded(deps: IngestDependencies, caller: Caller, input: IngestInput, received: DecodedInput): Promise<IngestResult> {
  const decoded = deps.compression ? await compressedOnIngest(deps.compression, caller, received) : received;
  const { content, size, parsed, attributes, contentSha256 } = decoded;
  if (input.kind === 'part10' && input.studyInstanceUid !== undefined && attributes.studyInstanceUid !== input.studyInstanceUid) {
    throw new YunyingError('STUDY_UID_MISMATCH', `Study Instance UID ${attributes.studyInstanceUid} does not match the target study ${input.studyInstanceUid}`);
  }
  const identity = {
    sopClassUid: attributes.sopClassUid,
    sopInstanceUid: attributes.sopInstanceUid,
    studyInstanceUid: attributes.studyInstanceUid,
    seriesInstanceUid: attributes.seriesInstanceUid,
  };

  // A scoped sender may add to its own studies and to new ones, never to another
  // institution's study; the answer does not say whether that study exists.
  if (caller.visibleInstitutionIds !== 'all' && (await deps.index.studyAccess(attributes.studyInstanceUid, studyScopeOf(caller))) === 'hidden') {
    throw new YunyingError('STUDY_NOT_WRITABLE', `Study ${attributes.studyInstanceUid} cannot take instances from this sender`);
  }
  const blobKey = blobKeyFor(attributes, contentSha256);
  // Where a PUT replaces an object whole or not at all (S3), the upload starts before the
  // lookup and the two overlap; on files, a rewrite in place could tear a stored blob, so
  // the lookup goes first there. Either way the index commit waits for the upload.
  const early = deps.blobs.atomicReplace ? settle(putContent(deps.blobs, blobKey, content)) : undefined;
  const existing = await deps.index.findInstance(attributes.sopInstanceUid);
  if (existing && existing.content_sha256 === contentSha256) {
    const upload = await early;
    if (upload && existing.blob_key !== blobKey) await deps.blobs.delete(blobKey).catch(() => undefined); // stored under an older key
    // Same bytes under the same key: the early upload, if it went through, rewrote the blob whole.
    if (upload?.ok && existing.blob_key === blobKey) return { outcome: 'duplicate', ...identity };
    // A resend after a power loss may find the index row but not its whole blob: write it again.
    if ((await deps.blobs.sizeOf(existing.blob_key)) !== Number(existing.size)) await (await putContent(deps.blobs, existing.blob_key, content)).durable;
    return { outcome: 'duplicate', ...identity };
  }
  if (existing && (await sameDatasetAsStored(deps.blobs, existing, { content, transferSyntaxUid: attributes.transferSyntaxUid }))) {
    // the stored object in another wrapper: nothing is written; the early upload (under another key) goes
    if ((await early)?.ok) await deps.blobs.delete(blobKey).catch(() => undefined);
    return { outcome: 'duplicate', ...identity };
  }
  if (existing && (existing.study_instance_uid !== attributes.studyInstanceUid || existing.series_instance_uid !== attributes.seriesInstanceUid)) {
    // Other bytes, so another key than the stored object's: only the early upload goes.
    if ((await early)?.ok) await deps.blobs.delete(blobKey).catch(() => undefined);
    throw duplicateConflict('SOP Instance UID already stored in another study or series');
  }

  let write;
  try {
    if (early) {
      const upload = await early;
      if (!upload.ok) throw upload.error;
      write = upload.write;
    } else {
      write = await putContent(deps.blobs, blobKey, content);
    }
  } catch (error) {
    throw storageFailure(error);
  }

  // The blob's fsync runs on the thread pool while the index commits and syncs its WAL:
  // one disk wait per instance instead of two.
  // The index rows, the audit record and the feed row commit in one transaction: a failed
  // audit write leaves nothing indexed, the sender is told to retry, and the retry is stored
  // and audited (were the record written after the commit, the retry would be a duplicate,
  // never audited).
  let outcome: Exclude<CommitOutcome, { kind: 'conflict' }>;
  try {
    outcome = await deps.unitOfWork.run(async (tx) => {
      const committed = await tx.index.commitInstance(commitInputFor(caller, input, parsed, attributes, blobKey, size, contentSha256, decoded.original));
      if (committed.kind === 'conflict') throw new CommitConflict(committed.reason); // rolls back whatever the commit wrote
      recordStored(tx, caller, identity, committed.kind === 'replaced' ? 'replaced' : 'stored');
      return committed;
    });
  } catch (error) {
    await write.durable.catch(() => undefined);
    await deps.blobs.delete(blobKey).catch(() => undefined); // the sender is told; nothing indexed
    if (error instanceof CommitConflict) throw duplicateConflict(error.message);
    throw new YunyingError('INDEX_WRITE_FAILED', `could not index the instance: ${(error as Error).message}`);
  }
  try {
    await write.durable;
  } catch (error) {
    // Indexed and readable, but not known to be on disk: tell the sender to retry; the resend
    // is a duplicate that rewrites the blob if it is missing.
    throw storageFailure(error);
  }
  if (outcome.kind === 'replaced' && outcome.previousBlobKey !== blobKey) {
    await deps.blobs.delete(outcome.previousBlobKey).catch(() => undefined);
  }
  const result: IngestResult = { outcome: outcome.kind === 'replaced' ? 'replaced' : 'stored', ...identity };
  if (outcome.kind === 'replaced') result.warning = 'a different object with this SOP Instance UID was stored before; it was replaced';
  deps.onStored?.(result, caller);
  return result;
}

/** A conflict found inside the commit's transaction: thrown to roll it back. */
class CommitConflict extends Error {}

type InstanceIdentity = Pick<IngestResult, 'sopClassUid' | 'sopInstanceUid' | 'studyInstanceUid' | 'seriesInstanceUid'>;

/** The instance's audit record and change-feed row, in the commit's transaction. */
function recordStored(tx: TransactionPorts, caller: Caller, identity: InstanceIdentity, outcome: 'stored' | 'replaced'): void {
  tx.audit.record({ action: outcome === 'replaced' ? 'instance.replaced' : 'instance.stored', caller, objectType: 'study', objectId: identity.studyInstanceUid, details: { sopInstanceUid: identity.sopInstanceUid, seriesInstanceUid: identity.seriesInstanceUid } });
  tx.feed.append({
    type: 'instance.stored',
    resourceType: 'instance',
    resourceId: identity.sopInstanceUid,
    institutionId: caller.institutionId,
    payload: { studyInstanceUid: identity.studyInstanceUid, seriesInstanceUid: identity.seriesInstanceUid, sopClassUid: identity.sopClassUid, outcome },
  });
}

type Settled = { ok: true; write: BlobWrite } | { ok: false; error: unknown };

/** The upload's outcome as a value, so that a path that returns early leaves no unhandled rejection. */
function settle(put: Promise<BlobWrite>): Promise<Settled> {
  return put.then(
    (write) => ({ ok: true as const, write }),
    (error: unknown) => ({ ok: false as const, error }),
  );
}

/**
 * The Part 10 bytes to store: in memory, in consecutive pieces (file meta, data set) not
 * joined to save a copy; or a staged file, with the file meta to go before a bare data set.
 */
type Content = { kind: 'pieces'; pieces: Buffer[] } | { kind: 'file'; file: StagedFile; prefix?: Buffer };

interface DecodedInput {
  content: Content;
  size: number;
  contentSha256: string;
  parsed: ParsedDicom;
  attributes: IndexAttributes;
  /** compressed on ingest: what was received */
  original?: { transferSyntaxUid: string; sha256: string };
}

/**
 * The received object losslessly compressed when its institution's administrator chose so
 * (settings/ingest-compression.ts), else the received one. Compression is an economy, never
 * a reason to refuse an instance: should it fail, the object is stored as received.
 */
async function compressedOnIngest(compression: IngestCompression, caller: Caller, received: DecodedInput): Promise<DecodedInput> {
  let compressed;
  try {
    compressed = await compressReceived(compression, caller.institutionId, received.content, received.size);
  } catch {
    compressed = undefined;
  }
  if (!compressed) return received;
  return {
    content: { kind: 'pieces', pieces: [compressed.bytes] },
    size: compressed.bytes.length,
    contentSha256: sha256Of([compressed.bytes]),
    parsed: received.parsed,
    attributes: { ...received.attributes, transferSyntaxUid: compressed.transferSyntaxUid },
    original: { transferSyntaxUid: received.attributes.transferSyntaxUid, sha256: received.contentSha256 },
  };
}

function putContent(blobs: BlobStore, key: string, content: Content): Promise<BlobWrite> {
  return content.kind === 'pieces' ? blobs.put(key, content.pieces) : blobs.putFile(key, content.file, content.prefix);
}

function sha256Of(pieces: readonly Buffer[]): string {
  const hash = createHash('sha256');
  for (const piece of pieces) hash.update(piece);
  return hash.digest('hex');
}

async function sha256OfFile(file: StagedFile, prefix?: Buffer): Promise<string> {
  if (file.sha256 && !prefix) return file.sha256; // hashed while it was written
  const hash = createHash('sha256');
  if (prefix) hash.update(prefix);
  for await (const chunk of createReadStream(file.path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function decodeInput(input: IngestInput): Promise<DecodedInput> {
  try {
    if ('file' in input) return await decodeStagedFile(input, input.file);
    if (input.kind === 'part10') {
      const parsed = parseDicom(input.bytes, { untilPixelData: true });
      const attributes = readIndexAttributes(parsed);
      refuseInvalidUids(parsed, attributes.transferSyntaxUid);
      return { content: { kind: 'pieces', pieces: [input.bytes] }, size: input.bytes.length, contentSha256: sha256Of([input.bytes]), parsed, attributes };
    }
    const parsed = parseDicom(input.bytes, { transferSyntaxUid: input.transferSyntaxUid, untilPixelData: true });
    const attributes = readIndexAttributes(parsed);
    refuseInvalidUids(parsed, input.transferSyntaxUid);
    checkDatasetMatchesCommand(input, attributes);
    const header = buildPart10Header({ transferSyntaxUid: input.transferSyntaxUid, sopClassUid: input.sopClassUid, sopInstanceUid: input.sopInstanceUid, sourceAeTitle: input.sourceAeTitle });
    const pieces = [header, input.bytes];
    return { content: { kind: 'pieces', pieces }, size: header.length + input.bytes.length, contentSha256: sha256Of(pieces), parsed, attributes: { ...attributes, transferSyntaxUid: input.transferSyntaxUid } };
  } catch (error) {
    if (error instanceof YunyingError) throw error;
    if (error instanceof DicomParseError) {
      throw new YunyingError('INVALID_DICOM', `cannot read the DICOM object: ${error.message}`);
    }
    throw new YunyingError('INVALID_DICOM', `cannot read the DICOM object: ${(error as Error).message ?? String(error)}`);
  }
}

function checkDatasetMatchesCommand(command: { sopInstanceUid: string; sopClassUid: string }, attributes: IndexAttributes): void {
  if (attributes.sopInstanceUid !== command.sopInstanceUid) {
    throw new YunyingError('SOP_INSTANCE_MISMATCH', 'SOP Instance UID in the data set differs from the command');
  }
  if (attributes.sopClassUid !== command.sopClassUid) {
    throw new YunyingError('SOP_CLASS_MISMATCH', 'SOP Class UID in the data set differs from the command');
  }
}

/** A staged file's header, parsed from its beginning: the file itself is never read whole into memory. */
async function decodeStagedFile(input: IngestInput, file: StagedFile): Promise<DecodedInput> {
  if (input.kind === 'part10') {
    const parsed = await parseStagedHeader(file, undefined);
    const attributes = readIndexAttributes(parsed);
    refuseInvalidUids(parsed, attributes.transferSyntaxUid);
    return { content: { kind: 'file', file }, size: file.size, contentSha256: await sha256OfFile(file), parsed, attributes };
  }
  const parsed = await parseStagedHeader(file, input.transferSyntaxUid);
  const attributes = readIndexAttributes(parsed);
  refuseInvalidUids(parsed, input.transferSyntaxUid);
  checkDatasetMatchesCommand(input, attributes);
  const header = buildPart10Header({ transferSyntaxUid: input.transferSyntaxUid, sopClassUid: input.sopClassUid, sopInstanceUid: input.sopInstanceUid, sourceAeTitle: input.sourceAeTitle });
  return { content: { kind: 'file', file, prefix: header }, size: header.length + file.size, contentSha256: await sha256OfFile(file, header), parsed, attributes: { ...attributes, transferSyntaxUid: input.transferSyntaxUid } };
}

/** The first read of a staged file's header; read 4× more while the attributes before Pixel Data do not fit. */
const HEADER_READ_FIRST = 1024 * 1024;
/**
 * Attributes before Pixel Data larger than this are refused in a staged file (in memory,
 * STOW-RS parts up to the request's memory budget, there is no such limit): what the header
 * costs in memory stays bounded whatever the object is.
 */
export const STAGED_HEADER_LIMIT = 64 * 1024 * 1024;

async function parseStagedHeader(file: StagedFile, transferSyntaxUid: string | undefined): Promise<ParsedDicom> {
  const handle = await open(file.path, 'r');
  try {
    let lastError: DicomParseError | undefined;
    for (let length = Math.min(file.size, HEADER_READ_FIRST); ; length = Math.min(file.size, length * 4)) {
      const bytes = Buffer.allocUnsafe(length);
      const { bytesRead } = await handle.read(bytes, 0, length, 0);
      if (bytesRead !== length) throw new DicomParseError(`the staged file ended after ${bytesRead} of ${file.size} bytes`);
      const whole = length === file.size;
      try {
        const parsed = parseDicom(bytes, { transferSyntaxUid, untilPixelData: true, wholeLength: whole ? undefined : file.size });
        // A beginning that parses without reaching Pixel Data may stop short of attributes still to come.
        if (whole || parsed.stoppedAtPixelData) return parsed;
      } catch (error) {
        if (whole || !(error instanceof DicomParseError)) throw error;
        lastError = error;
      }
      if (length >= STAGED_HEADER_LIMIT) {
        throw new DicomParseError(`no Pixel Data within the first ${STAGED_HEADER_LIMIT} bytes of a ${file.size}-byte object${lastError ? ` (${lastError.message})` : ''}`);
      }
    }
  } finally {
    await handle.close();
  }
}

/**
 * Every UI value must be a UID (issue 12, finding 6): a UID becomes a URL path segment, a
 * FHIR token, an HTML attribute and a file name, and a value such as `abc` or
 * `1"><meta http-equiv=refresh …>` is accepted by nothing downstream (FHIR search, DELETE)
 * or, worse, by an HTML page. Refused whole, before anything is written, naming the element.
 * A900 "Data Set does not match SOP Class" (PS3.4 Table B.2-1) because the data set does not meet its IOD; the same status for
 * C-STORE, STOW-RS (in the failed SOP's reason) and the gateway.
 */
function refuseInvalidUids(parsed: ParsedDicom, transferSyntaxUid: string): void {
  const [first, ...more] = findInvalidUids(parsed);
  if (first) {
    const others = more.length ? ` (and ${more.length} more: ${more.map((uid) => uid.tag).join(', ')})` : '';
    throw invalidUid(`${first.tag} "${first.value}" is not a valid UID: digits and dots, at most 64 characters${others}`);
  }
  if (!isValidUid(transferSyntaxUid)) throw invalidUid(`Transfer Syntax UID "${transferSyntaxUid.slice(0, 80)}" is not a valid UID`);
}

function invalidUid(message: string): YunyingError {
  return new YunyingError('INVALID_UID', message);
}

function storageFailure(error: unknown): YunyingError {
  return new YunyingError('STORAGE_WRITE_FAILED', `could not write the instance: ${(error as Error).message}`);
}

function duplicateConflict(reason: string): YunyingError {
  return new YunyingError('DUPLICATE_SOP_INSTANCE', reason);
}

/**
 * 256 directories, chosen by the study so that a study's instances sit together; creating a
 * directory costs about a millisecond on a virtual disk, so there is no directory per study
 * or per instance. The content hash in the name keeps a replaced object from overwriting the
 * one it replaces, and lets a partial file left by a crash be told from the real one.
 */
function blobKeyFor(attributes: IndexAttributes, contentSha256: string): string {
  const bucket = createHash('sha256').update(attributes.studyInstanceUid).digest('hex').slice(0, 2);
  return `${bucket}/${attributes.sopInstanceUid}.${contentSha256.slice(0, 16)}.dcm`;
}

/** ReferringPhysicianName's derived matching columns (migration 0024), as PatientName has. */
function referringPhysicianColumns(name: string | undefined) {
  const columns = personNameIndexColumns(name);
  return {
    referring_physician_name_alphabetic: columns.alphabetic,
    referring_physician_name_ideographic: columns.ideographic,
    referring_physician_name_phonetic: columns.phonetic,
    referring_physician_name_search: columns.search,
    referring_physician_name_pinyin: columns.pinyin,
  };
}

const orNull = <T>(value: T | undefined): T | null => (value === undefined || value === '' ? null : value);

function commitInputFor(caller: Caller, input: IngestInput, parsed: ParsedDicom, a: IndexAttributes, blobKey: string, size: number, contentSha256: string, original?: DecodedInput['original']): CommitInstanceInput {
  const nameGroups = personNameSearchGroups(a.patientName);
  const nameSearch = personNameSearchText(nameGroups);
  // The data set as JSON is needed only for a new study or series, and then once for both.
  let json: DicomJsonDataset | undefined;
  const topLevelJson = (): DicomJsonDataset => (json ??= safeToDicomJson(parsed));
  return {
    study: {
      study_instance_uid: a.studyInstanceUid,
      institution_id: caller.institutionId,
      patient_id: orNull(a.patientId),
      issuer_of_patient_id: orNull(a.issuerOfPatientId),
      patient_name: orNull(a.patientName),
      patient_name_alphabetic: nameGroups.alphabetic,
      patient_name_ideographic: nameGroups.ideographic,
      patient_name_phonetic: nameGroups.phonetic,
      patient_name_search: nameSearch,
      patient_name_bigrams: personNameBigrams(nameSearch),
      patient_birth_date: orNull(a.patientBirthDate),
      patient_sex: orNull(a.patientSex),
      study_date: orNull(a.studyDate),
      study_time: orNull(a.studyTime),
      accession_number: orNull(a.accessionNumber),
      study_id: orNull(a.studyId),
      study_description: orNull(a.studyDescription),
      referring_physician_name: orNull(a.referringPhysicianName),
      ...referringPhysicianColumns(a.referringPhysicianName),
      patient_name_pinyin: personNamePinyinText(a.patientName),
      institution_name: orNull(a.institutionName),
    },
    series: {
      series_instance_uid: a.seriesInstanceUid,
      study_instance_uid: a.studyInstanceUid,
      modality: orNull(a.modality),
      series_number: orNull(a.seriesNumber),
      series_description: orNull(a.seriesDescription),
      body_part_examined: orNull(a.bodyPartExamined),
      series_date: orNull(a.seriesDate),
      series_time: orNull(a.seriesTime),
      performed_procedure_step_start_date: orNull(a.performedProcedureStepStartDate),
    },
    instance: {
      sop_instance_uid: a.sopInstanceUid,
      series_instance_uid: a.seriesInstanceUid,
      study_instance_uid: a.studyInstanceUid,
      sop_class_uid: a.sopClassUid,
      institution_id: caller.institutionId,
      instance_number: orNull(a.instanceNumber),
      transfer_syntax_uid: a.transferSyntaxUid,
      number_of_frames: orNull(a.numberOfFrames),
      rows: orNull(a.rows),
      columns: orNull(a.columns),
      content_date: orNull(a.contentDate),
      content_time: orNull(a.contentTime),
      blob_key: blobKey,
      size,
      content_sha256: contentSha256,
      source_ae_title: input.kind === 'dataset' ? input.sourceAeTitle : null,
      original_transfer_syntax_uid: original?.transferSyntaxUid ?? null,
      original_sha256: original?.sha256 ?? null,
    },
    studyAttributesJson: () => levelAttributesJson(topLevelJson(), STUDY_GROUPS),
    seriesAttributesJson: () => levelAttributesJson(topLevelJson(), SERIES_GROUPS),
  };
}

// Groups kept per level for includefield: patient/study/equipment/general-series attributes
// sit in these groups; image-level groups (0028, 7FE0) are not copied up.
const STUDY_GROUPS = STUDY_ATTRIBUTE_GROUPS;
const SERIES_GROUPS = SERIES_ATTRIBUTE_GROUPS;
// Sequences and free text (reports, comments) can be long and are not what a query returns,
// except the few sequences a query matches on (attribute-catalog.ts QUERYABLE_SEQUENCES).
const UNSTORED_VRS = new Set(['SQ', 'LT', 'ST', 'UT', 'UC', 'UR']);

function kept(tag: string, element: DicomJsonElement): boolean {
  if (element.vr === 'SQ' && QUERYABLE_SEQUENCES.has(tag.toUpperCase())) return JSON.stringify(element).length <= QUERYABLE_SEQUENCE_MAX_CHARS;
  return !UNSTORED_VRS.has(element.vr);
}

function safeToDicomJson(parsed: ParsedDicom): DicomJsonDataset {
  try {
    return toDicomJson(parsed, { omitBinary: true });
  } catch {
    return {}; // the index attributes were read; includefield of other attributes just finds nothing
  }
}

function levelAttributesJson(dataset: DicomJsonDataset, groups: ReadonlySet<string>): string {
  const keptAttributes: DicomJsonDataset = {};
  for (const [tag, element] of Object.entries(dataset)) {
    if (groups.has(tag.slice(0, 4)) && kept(tag, element)) keptAttributes[tag] = element;
  }
  return JSON.stringify(keptAttributes);
}
