/**
 * Import from an existing hospital PACS: C-FIND (Study Root, STUDY level) on the remote
 * PACS, then one C-MOVE per study with the gateway's own AE title as the destination. The
 * moved instances arrive on the gateway's SCP like any modality's, land in the cache and
 * the durable queue, and are forwarded to the cloud. Jobs and their progress are kept in
 * gateway_import_jobs (import-store.ts); after a restart `resume()` picks up every
 * unfinished job: the C-FIND again if it had not answered, else a new C-MOVE for each study
 * not yet fully moved (what had already arrived is a duplicate in the cache: nothing changes).
 */
import { randomUUID } from 'node:crypto';
import { encodeDataset, parseDicom, toDicomJson, TRANSFER_SYNTAX, type DicomJsonDataset } from '@yunying/dicom';
import { COMMAND, DATASET_PRESENT, PRIORITY_MEDIUM, QR, openAssociation, type DimseClient } from '@yunying/dimse';
import type { Logger } from 'pino';
import type { DicomNodeConfig } from './config.ts';
import { ImportStore, type ImportJob, type ImportStudy } from './import-store.ts';
import type { GatewayQueue } from './queue-store.ts';

export type { ImportJob, ImportStudy } from './import-store.ts';

/** C-MOVE progress is written at most this often (state changes at once). */
const PROGRESS_SAVE_MS = 500;

const QUERY_KEYS: Record<string, { tag: string; vr: string }> = {
  PatientID: { tag: '00100020', vr: 'LO' },
  PatientName: { tag: '00100010', vr: 'PN' },
  StudyDate: { tag: '00080020', vr: 'DA' },
  AccessionNumber: { tag: '00080050', vr: 'SH' },
  StudyInstanceUID: { tag: '0020000D', vr: 'UI' },
  ModalitiesInStudy: { tag: '00080061', vr: 'CS' },
  StudyDescription: { tag: '00081030', vr: 'LO' },
};

export const IMPORT_QUERY_KEYS = Object.keys(QUERY_KEYS);

export interface ImportRequest {
  pacs?: DicomNodeConfig;
  /** matching keys by DICOM keyword; at least one */
  query: Record<string, string>;
}

export class ImportError extends Error {}

export class PacsImporter {
  private readonly jobs = new Map<string, ImportJob>();
  private readonly running = new Set<Promise<void>>();
  private readonly clients = new Set<DimseClient>();
  private readonly store: ImportStore;
  /** saves of one job in order, never two at once */
  private readonly saving = new Map<string, Promise<void>>();
  private readonly lastSaved = new Map<string, number>();
  private stopped = false;

  private readonly options: { aeTitle: string; defaultPacs?: DicomNodeConfig; queue: GatewayQueue; db: ConstructorParameters<typeof ImportStore>[0]; logger: Logger };
  constructor(options: { aeTitle: string; defaultPacs?: DicomNodeConfig; queue: GatewayQueue; db: ConstructorParameters<typeof ImportStore>[0]; logger: Logger }) {
    this.options = options;
    this.store = new ImportStore(options.db);
  }

  /** Creates the table and loads the jobs of earlier runs (call once, before start/resume). */
  async open(): Promise<void> {
    await this.store.migrate();
    for (const job of await this.store.load()) this.jobs.set(job.id, job);
  }

  /** Picks up every job a previous run left unfinished. Returns how many. */
  resume(): number {
    let n = 0;
    for (const job of this.jobs.values()) {
      if (job.state !== 'querying' && job.state !== 'moving') continue;
      job.resumed = (job.resumed ?? 0) + 1;
      this.options.logger.info({ importId: job.id, state: job.state, studies: job.studies.length }, 'PACS import: resuming after a restart');
      this.launch(job);
      n += 1;
    }
    return n;
  }

  /** Stops running jobs without marking them failed: they stay unfinished on disk and resume at the next start. */
  async close(): Promise<void> {
    this.stopped = true;
    for (const client of this.clients) client.abort();
    await Promise.allSettled([...this.running]);
    await Promise.allSettled([...this.saving.values()]);
  }

  /** Validates and starts an import; progress through get()/list(). */
  start(request: ImportRequest): ImportJob {
    const pacs = request.pacs ?? this.options.defaultPacs;
    if (!pacs) throw new ImportError('no PACS given and YUNYING_GATEWAY_PACS is not set');
    if (!pacs.aeTitle || !pacs.host || !Number.isInteger(pacs.port) || pacs.port < 1 || pacs.port > 65535) throw new ImportError('pacs must be { aeTitle, host, port }');
    const query = request.query ?? {};
    const keys = Object.keys(query);
    if (keys.length === 0) throw new ImportError(`give at least one matching key: ${IMPORT_QUERY_KEYS.join(', ')}`);
    for (const key of keys) {
      if (!QUERY_KEYS[key]) throw new ImportError(`unknown matching key ${key}; use ${IMPORT_QUERY_KEYS.join(', ')}`);
      if (typeof query[key] !== 'string' || query[key] === '') throw new ImportError(`${key} must be a non-empty string`);
    }
    if (this.stopped) throw new ImportError('the gateway is stopping');
    const job: ImportJob = { id: randomUUID(), pacs, query, state: 'querying', startedAt: new Date().toISOString(), studies: [] };
    this.jobs.set(job.id, job);
    this.launch(job);
    return job;
  }

  private launch(job: ImportJob): void {
    const run = this.save(job)
      .then(() => this.run(job))
      .catch((error: unknown) => this.options.logger.error({ importId: job.id, err: error }, 'PACS import: could not record the job'))
      .finally(() => this.running.delete(run));
    this.running.add(run);
  }

  /** Writes the job (in order with its earlier writes); `progress` writes are throttled. */
  private save(job: ImportJob, progress = false): Promise<void> {
    const now = Date.now();
    if (progress && now - (this.lastSaved.get(job.id) ?? 0) < PROGRESS_SAVE_MS) return Promise.resolve();
    this.lastSaved.set(job.id, now);
    const snapshot: ImportJob = structuredClone(job);
    const next = (this.saving.get(job.id) ?? Promise.resolve()).then(() => this.store.save(snapshot));
    const settled = next.catch((error: unknown) => this.options.logger.warn({ importId: job.id, err: error }, 'PACS import: progress not recorded'));
    this.saving.set(job.id, settled);
    void settled.then(() => {
      if (this.saving.get(job.id) === settled) this.saving.delete(job.id);
    });
    return next;
  }

  get(id: string): ImportJob | undefined {
    return this.jobs.get(id);
  }

  list(): ImportJob[] {
    return [...this.jobs.values()];
  }

  /** Jobs with the forwarding state of their studies from the queue. */
  async describe(job: ImportJob): Promise<ImportJob & { cached: number; forwarded: number; forwardFailed: number }> {
    const progress = await this.options.queue.studyProgress(job.studies.map((s) => s.studyInstanceUid));
    let cached = 0;
    let forwarded = 0;
    let forwardFailed = 0;
    for (const p of progress.values()) {
      cached += p.cached;
      forwarded += p.sent;
      forwardFailed += p.failed;
    }
    return { ...job, cached, forwarded, forwardFailed };
  }

  async idle(): Promise<void> {
    await Promise.allSettled([...this.running]);
    await Promise.allSettled([...this.saving.values()]);
  }

  private async run(job: ImportJob): Promise<void> {
    const { logger } = this.options;
    let client: DimseClient | undefined;
    try {
      client = await openAssociation({
        host: job.pacs.host,
        port: job.pacs.port,
        callingAeTitle: this.options.aeTitle,
        calledAeTitle: job.pacs.aeTitle,
        presentationContexts: [QR.STUDY_ROOT_FIND, QR.STUDY_ROOT_MOVE].map((abstractSyntax) => ({ abstractSyntax, transferSyntaxes: [TRANSFER_SYNTAX.EXPLICIT_LE, TRANSFER_SYNTAX.IMPLICIT_LE] })),
        connectTimeoutMs: 15_000,
        idleTimeoutMs: 30 * 60_000,
      });
      this.clients.add(client);
      if (this.stopped) return;
      if (job.state === 'querying') {
        job.studies = await findStudies(client, job.query);
        logger.info({ importId: job.id, pacs: job.pacs.aeTitle, studies: job.studies.length }, 'PACS import: studies found');
        job.state = 'moving';
        await this.save(job);
      }
      for (const study of job.studies) {
        if (this.stopped) return;
        // Moved and failed studies are done; a study caught mid-move by a restart goes again.
        if (study.state === 'moved' || study.state === 'failed') continue;
        study.state = 'moving';
        await this.save(job);
        await moveStudy(client, study, this.options.aeTitle, () => void this.save(job, true));
        if (this.stopped) return;
        await this.save(job);
      }
      job.state = job.studies.some((s) => s.state === 'failed') ? 'failed' : 'done';
      if (job.state === 'failed') job.error = 'some studies could not be moved';
    } catch (error) {
      // Stopping aborts the association: the job stays unfinished and resumes at the next start.
      if (this.stopped) return;
      job.state = 'failed';
      job.error = (error as Error).message;
      logger.warn({ importId: job.id, err: error }, 'PACS import failed');
    } finally {
      if (client) this.clients.delete(client);
      if (!this.stopped) {
        job.finishedAt = new Date().toISOString();
        await this.save(job).catch(() => undefined);
        await client?.release().catch(() => client?.abort());
      }
    }
  }
}

function contextFor(client: DimseClient, sopClass: string): { id: number; transferSyntax: string } {
  const pc = client.findContext(sopClass);
  if (!pc) throw new ImportError(`the PACS did not accept ${sopClass}`);
  return { id: pc.id, transferSyntax: pc.transferSyntax };
}

async function findStudies(client: DimseClient, query: Record<string, string>): Promise<ImportStudy[]> {
  const pc = contextFor(client, QR.STUDY_ROOT_FIND);
  const identifier: DicomJsonDataset = {
    '00080052': { vr: 'CS', Value: ['STUDY'] },
    '0020000D': { vr: 'UI' },
    '00100020': { vr: 'LO' },
    '00080020': { vr: 'DA' },
    '00201208': { vr: 'IS' },
  };
  for (const [keyword, value] of Object.entries(query)) {
    const key = QUERY_KEYS[keyword]!;
    identifier[key.tag] = key.vr === 'PN' ? { vr: 'PN', Value: [{ Alphabetic: value }] } : { vr: key.vr, Value: key.vr === 'UI' || key.vr === 'CS' ? value.split('\\') : [value] };
  }
  const found: ImportStudy[] = [];
  const status = await client.request(pc.id, { commandField: COMMAND.C_FIND_RQ, affectedSopClassUid: QR.STUDY_ROOT_FIND, priority: PRIORITY_MEDIUM, commandDataSetType: DATASET_PRESENT }, encodeDataset(identifier, pc.transferSyntax), (message) => {
    if (!message.dataset) return;
    const json = toDicomJson(parseDicom(message.dataset, { transferSyntaxUid: pc.transferSyntax }), { omitBinary: true });
    const uid = json['0020000D']?.Value?.[0];
    if (typeof uid !== 'string' || found.some((s) => s.studyInstanceUid === uid)) return;
    const expected = Number(json['00201208']?.Value?.[0]);
    found.push({
      studyInstanceUid: uid,
      patientId: typeof json['00100020']?.Value?.[0] === 'string' ? (json['00100020'].Value[0] as string) : undefined,
      studyDate: typeof json['00080020']?.Value?.[0] === 'string' ? (json['00080020'].Value[0] as string) : undefined,
      ...(Number.isFinite(expected) ? { expectedInstances: expected } : {}),
      state: 'waiting',
      completed: 0,
      failed: 0,
      warning: 0,
    });
  });
  if (status.status !== 0x0000) throw new ImportError(`C-FIND on the PACS failed: status 0x${status.status.toString(16)} ${status.errorComment ?? ''}`.trim());
  return found;
}

async function moveStudy(client: DimseClient, study: ImportStudy, destination: string, onProgress: () => void): Promise<void> {
  const pc = contextFor(client, QR.STUDY_ROOT_MOVE);
  study.state = 'moving';
  delete study.error;
  const identifier: DicomJsonDataset = { '00080052': { vr: 'CS', Value: ['STUDY'] }, '0020000D': { vr: 'UI', Value: [study.studyInstanceUid] } };
  const status = await client.request(pc.id, { commandField: COMMAND.C_MOVE_RQ, affectedSopClassUid: QR.STUDY_ROOT_MOVE, priority: PRIORITY_MEDIUM, moveDestination: destination, commandDataSetType: DATASET_PRESENT }, encodeDataset(identifier, pc.transferSyntax), (message) => {
    const c = message.command;
    study.remaining = c.remaining ?? study.remaining;
    study.completed = c.completed ?? study.completed;
    study.failed = c.failed ?? study.failed;
    study.warning = c.warning ?? study.warning;
    onProgress();
  });
  const c = status.response;
  study.completed = c.completed ?? study.completed;
  study.failed = c.failed ?? study.failed;
  study.warning = c.warning ?? study.warning;
  study.remaining = 0;
  if (status.status === 0x0000 || (status.status === 0xb000 && study.failed === 0)) study.state = 'moved';
  else {
    study.state = 'failed';
    study.error = `C-MOVE status 0x${status.status.toString(16).padStart(4, '0')}${status.errorComment ? `: ${status.errorComment}` : ''}`;
  }
}
