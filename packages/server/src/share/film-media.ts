import { Readable } from 'node:stream';
import yazl from 'yazl';
import { parseDicom, type ParsedDicom } from '@yunying/dicom';
import type { AuditRecorder } from '../access/audit-event.ts';
import { notFound, YunyingError } from '../errors.ts';
import { renderFrame, type RenderWindow } from '../rendering/render.ts';
import type { ReportsPort } from '../reports/reports-port.ts';
import type { BlobStore } from '../store/blob-store.ts';
import type { IndexStore, InstanceRow } from '../store/index-store.ts';
import { LruCache } from './lru-cache.ts';
import { holderActor, linkHolderCaller, ShareRefusal, type LiveLink, type PageSeries, type FilmPageSupplement, type PatientPageData, type ShareOptions, type ShareOrigin } from './share-model.ts';
import type { SeriesSummary, ShareStore } from '../store/share-store.ts';
import type { ShareTrail } from './share-trail.ts';

/** Memory for parsed instances kept between image requests of the cloud film (per process). */
export const PARSED_CACHE_BYTES = 64 * 1024 ** 2;
/** Memory for rendered JPEGs (previews and small fidelity) kept per process. */
const RENDERED_CACHE_BYTES = 32 * 1024 ** 2;

const CT_WINDOWS: Array<[string, string, number, number]> = [
  ['软组织', 'Soft tissue', 40, 400],
  ['肺窗', 'Lung', -600, 1500],
  ['骨窗', 'Bone', 400, 1800],
  ['脑窗', 'Brain', 40, 80],
];

export interface FilmMediaDependencies {
  store: Pick<ShareStore, 'seriesOfStudy' | 'institutionName' | 'countView'>;
  index: IndexStore;
  blobs: BlobStore;
  reports: ReportsPort;
  audit: AuditRecorder;
  trail: ShareTrail;
}

/**
 * What an open link shows: the page's data (exam, masked patient, the signed report through
 * the reports port, series), rendered images at three fidelities, and the DICOM and JPEG zips.
 * Only the link's own study: a UID of any other study answers like one that does not exist.
 */
export class FilmMedia {
  private readonly deps: FilmMediaDependencies;
  readonly options: ShareOptions;
  /** parsed instances by blob key, bounded by the bytes of their files (the parse keeps views into them) */
  private readonly parsedCache = new LruCache<{ parsed: ParsedDicom; bytes: number }>(PARSED_CACHE_BYTES, (entry) => entry.bytes);
  private readonly renderedCache = new LruCache<Buffer>(RENDERED_CACHE_BYTES, (jpeg) => jpeg.length);
  /** image views are recorded once per link, series and fidelity every 10 minutes per process */
  private readonly viewsRecorded = new LruCache<number>(5000);

  constructor(deps: FilmMediaDependencies, options: ShareOptions) {
    this.deps = deps;
    this.options = options;
  }

  private readonly supplements: FilmPageSupplement[] = [];

  /** A later module's part of a patient link's page (recognition/: the patient's own timeline). */
  addPageSupplement(supplement: FilmPageSupplement): void {
    this.supplements.push(supplement);
  }

  /** What the page shows; counts a view and records the open. */
  async pageData(live: LiveLink, origin: ShareOrigin): Promise<PatientPageData> {
    const { link } = live;
    const [study, series, instances, reports, institution] = await Promise.all([
      this.deps.index.studyRow(link.study_instance_uid),
      this.deps.store.seriesOfStudy(link.study_instance_uid),
      this.imagesOf(link.study_instance_uid),
      this.deps.reports.signedReportsOfStudy(link.study_instance_uid),
      this.deps.store.institutionName(link.institution_id),
    ]);
    if (!study || study.study_key !== link.study_key) throw new ShareRefusal('SHARE_STUDY_GONE', 'the study of this link no longer exists');
    const report = link.report_id ? (reports.find((r) => r.id === link.report_id) ?? reports[0]) : reports[0];
    const modalities = (study.modalities_in_study ?? '').split('\\').filter(Boolean);
    await this.deps.store.countView(link.id);
    await this.deps.trail.recordAccess(live, 'opened', origin);
    await this.deps.audit.record({ action: 'share.opened', caller: linkHolderCaller(link, origin), objectType: 'share', objectId: link.id, patientId: study.patient_id ?? undefined, details: { studyInstanceUid: link.study_instance_uid, actor: holderActor(link), ...(link.recipient ? { recipient: link.recipient } : {}) } });
    return {
      link: { kind: link.kind === 'onward' ? 'onward' : 'patient', expiresAt: link.expires_at, recipient: link.recipient, mayShare: link.kind === 'patient' },
      institution: institution ?? study.institution_name ?? link.institution_id,
      exam: { description: study.study_description, modalities, date: study.study_date, time: study.study_time, accessionNumber: study.accession_number },
      patient: { name: maskName(study.patient_name), sex: study.patient_sex },
      report: report ? { findings: report.findings, impression: report.impression, positive: report.positive, signedAt: report.signedAt, reportNumber: report.reportNumber ?? null, readingInstitution: (await this.deps.store.institutionName(report.readingInstitutionId)) ?? report.readingInstitutionId, addenda: await this.deps.reports.addendaOf(report.id) } : null,
      series: pageSeries(series, instances),
      windows: modalities.includes('CT') ? CT_WINDOWS : [],
      timeZone: this.options.timeZone,
      // the patient's own: a doctor's onward link shows the one exam it was made for
      ...(link.kind === 'patient' ? Object.assign({}, ...(await Promise.all(this.supplements.map((supplement) => supplement(link))))) : {}),
    };
  }

  /** An image of the link's study, or 404: a UID of any other study or series does not exist here. */
  async findImage(live: LiveLink, seriesInstanceUid: string, sopInstanceUid: string): Promise<InstanceRow> {
    const row = await this.deps.index.findInstance(sopInstanceUid);
    if (!row || row.study_instance_uid !== live.link.study_instance_uid || row.series_instance_uid !== seriesInstanceUid) throw notFound('image');
    return row;
  }

  /** The middle image of a series of the link's study. */
  async representativeImage(live: LiveLink, seriesInstanceUid: string): Promise<InstanceRow> {
    const images = (await this.imagesOf(live.link.study_instance_uid)).filter((row) => row.series_instance_uid === seriesInstanceUid);
    if (images.length === 0) throw notFound('series');
    return images[Math.floor((images.length - 1) / 2)]!;
  }

  /**
   * A rendered JPEG: `small` (512 px, quality 80: the first thing a slow phone gets),
   * `thumbnail` (128 px) or `full` (native size, quality 92). Records the view.
   */
  async renderImage(live: LiveLink, row: InstanceRow, options: { frame: number; fidelity: 'thumbnail' | 'small' | 'full'; window?: RenderWindow }, origin: ShareOrigin): Promise<Buffer> {
    const { frame, fidelity, window } = options;
    const key = `${row.blob_key}|${frame}|${fidelity}|${window ? `${window.center},${window.width}` : ''}`;
    let body = fidelity === 'full' ? undefined : this.renderedCache.get(key);
    if (!body) {
      const parsed = await this.parsed(row);
      const size = fidelity === 'thumbnail' ? 128 : fidelity === 'small' ? 512 : undefined;
      body = (await renderFrame(parsed, { frame, format: 'jpeg', quality: fidelity === 'full' ? 92 : fidelity === 'small' ? 80 : 70, window, maxFrameBytes: this.options.maxRenderFrameBytes, ...(size ? { fit: { width: size, height: size } } : {}) })).body;
      if (fidelity !== 'full') this.renderedCache.set(key, body);
    }
    if (fidelity !== 'thumbnail') await this.recordImageView(live, row.series_instance_uid, fidelity, origin);
    return body;
  }

  private async recordImageView(live: LiveLink, seriesInstanceUid: string, fidelity: string, origin: ShareOrigin): Promise<void> {
    const key = `${live.link.id}|${seriesInstanceUid}|${fidelity}|${origin.remoteAddress ?? ''}`;
    const last = this.viewsRecorded.get(key);
    if (last !== undefined && Date.now() - last < 10 * 60_000) return;
    this.viewsRecorded.set(key, Date.now());
    const action = fidelity === 'full' ? 'viewed-full' : 'viewed-images';
    await this.deps.trail.recordAccess(live, action, origin);
    await this.deps.audit.record({ action: 'share.viewed', caller: linkHolderCaller(live.link, origin), objectType: 'share', objectId: live.link.id, patientId: await this.deps.trail.patientIdOf(live.link.study_instance_uid), details: { studyInstanceUid: live.link.study_instance_uid, seriesInstanceUid, fidelity, actor: holderActor(live.link) } });
  }

  /** Records a download (before it starts: whatever is served was recorded). */
  async recordDownload(live: LiveLink, what: 'dicom' | 'jpeg', origin: ShareOrigin, details: Record<string, unknown> = {}): Promise<void> {
    await this.deps.trail.recordAccess(live, what === 'dicom' ? 'downloaded-dicom' : 'downloaded-jpeg', origin);
    await this.deps.audit.record({ action: 'share.downloaded', caller: linkHolderCaller(live.link, origin), objectType: 'share', objectId: live.link.id, patientId: await this.deps.trail.patientIdOf(live.link.study_instance_uid), details: { studyInstanceUid: live.link.study_instance_uid, format: what, ...details, actor: holderActor(live.link) } });
  }

  /** The original DICOM files of the study as a streamed zip, byte for byte as stored. */
  async dicomZip(live: LiveLink): Promise<NodeJS.ReadableStream> {
    const rows = await this.deps.index.findInstances({ studyInstanceUids: [live.link.study_instance_uid], scope: {} });
    const zip = new yazl.ZipFile();
    const names = seriesFolderNames(await this.deps.store.seriesOfStudy(live.link.study_instance_uid));
    for (const [n, row] of rows.entries()) {
      const name = `DICOM/${names.get(row.series_instance_uid) ?? 'series'}/${String(n + 1).padStart(5, '0')}.dcm`;
      zip.addReadStreamLazy(name, { size: Number(row.size), compress: true, compressionLevel: 1, mtime: new Date(row.created_at) }, (callback) => {
        this.deps.blobs.get(row.blob_key).then((bytes) => callback(null, Readable.from([bytes])), (error: unknown) => callback(error, Readable.from([])));
      });
    }
    zip.end();
    return zip.outputStream;
  }

  /**
   * Every image of the study rendered at native size (JPEG quality 92), streamed as a zip. A
   * frame that cannot be rendered (FRAME_NOT_DECODABLE, FRAME_TOO_LARGE,
   * RENDERING_NOT_SUPPORTED) is left out, its number skipped, and the zip ends with
   * JPEG/未能转换的图像-not-converted.txt naming each one and why: the DICOM zip has it. Frames
   * are rendered one ahead of the zip writer, so at most two rendered frames are in memory.
   */
  async jpegZip(live: LiveLink): Promise<NodeJS.ReadableStream> {
    const rows = await this.imagesOf(live.link.study_instance_uid);
    const names = seriesFolderNames(await this.deps.store.seriesOfStudy(live.link.study_instance_uid));
    const zip = new yazl.ZipFile();
    const produce = async (): Promise<void> => {
      const leftOut: string[] = [];
      let n = 0;
      for (const row of rows) {
        const frames = Math.max(1, row.number_of_frames ?? 1);
        for (let frame = 1; frame <= frames; frame++) {
          n += 1;
          const name = `JPEG/${names.get(row.series_instance_uid) ?? 'series'}/${String(n).padStart(5, '0')}.jpg`;
          const rendered = await this.renderForZip(row, frame);
          if (typeof rendered === 'string') {
            leftOut.push(`${name}  (series ${row.series_instance_uid}, instance ${row.sop_instance_uid}, frame ${frame}): ${rendered}`);
            continue;
          }
          // wait until the zip writer reaches this entry before rendering the next (back-pressure)
          await new Promise<void>((resolve) => {
            zip.addReadStreamLazy(name, { compress: false, mtime: new Date(row.created_at) }, (callback) => {
              callback(null, Readable.from([rendered]));
              resolve();
            });
          });
        }
      }
      if (leftOut.length > 0) zip.addBuffer(Buffer.from(notConvertedNote(leftOut), 'utf8'), 'JPEG/未能转换的图像-not-converted.txt', { compress: true });
      zip.end();
    };
    produce().catch((error: unknown) => (zip.outputStream as unknown as Readable).destroy(error instanceof Error ? error : new Error(String(error))));
    return zip.outputStream;
  }

  /** The frame as JPEG, or the error code and message when this frame cannot be rendered. */
  private async renderForZip(row: InstanceRow, frame: number): Promise<Buffer | string> {
    const parsed = await this.parsed(row);
    try {
      return (await renderFrame(parsed, { frame, format: 'jpeg', quality: 92, maxFrameBytes: this.options.maxRenderFrameBytes })).body;
    } catch (error) {
      // only a refusal about this frame is skipped; anything else (storage, bugs) fails the download
      if (error instanceof YunyingError && error.httpStatus >= 400 && error.httpStatus < 500) return `${error.code}: ${error.message}`;
      throw error;
    }
  }

  private async imagesOf(studyInstanceUid: string): Promise<InstanceRow[]> {
    const rows = await this.deps.index.findInstances({ studyInstanceUids: [studyInstanceUid], scope: {} });
    return rows.filter((row) => (row.rows ?? 0) > 0);
  }

  private async parsed(row: InstanceRow): Promise<ParsedDicom> {
    const hit = this.parsedCache.get(row.blob_key);
    if (hit) return hit.parsed;
    const bytes = await this.deps.blobs.get(row.blob_key);
    const parsed = parseDicom(bytes);
    this.parsedCache.set(row.blob_key, { parsed, bytes: bytes.length });
    return parsed;
  }
}

/** 王^小东 → 王**; Wang^XiaoDong → W***: enough to recognise one's own film, not more. */
export function maskName(pn: string | null): string | null {
  if (!pn) return null;
  const groups = pn.split('=');
  const name = (groups[1] || groups[0] || '').replace(/\^/g, '').trim();
  if (!name) return null;
  const chars = [...name];
  return chars[0] + '*'.repeat(Math.min(Math.max(chars.length - 1, 1), 3));
}

function pageSeries(series: readonly SeriesSummary[], instances: readonly InstanceRow[]): PageSeries[] {
  const bySeries = new Map<string, InstanceRow[]>();
  for (const row of instances) {
    const list = bySeries.get(row.series_instance_uid) ?? [];
    list.push(row);
    bySeries.set(row.series_instance_uid, list);
  }
  const out: PageSeries[] = [];
  for (const s of series) {
    const rows = bySeries.get(s.seriesInstanceUid);
    if (!rows || rows.length === 0) continue;
    rows.sort((a, b) => (a.instance_number ?? 0) - (b.instance_number ?? 0) || Number(a.seq) - Number(b.seq));
    out.push({ uid: s.seriesInstanceUid, number: s.seriesNumber, modality: s.modality, description: s.description, images: rows.map((row) => [row.sop_instance_uid, Math.max(1, row.number_of_frames ?? 1)]) });
  }
  return out;
}

function seriesFolderNames(series: readonly SeriesSummary[]): Map<string, string> {
  return new Map(series.map((s, i) => [s.seriesInstanceUid, `series-${String(s.seriesNumber ?? i + 1).padStart(3, '0')}${s.modality ? `-${s.modality.replace(/[^A-Za-z0-9]/g, '')}` : ''}`]));
}

/** The text file in the JPEG zip that names the frames left out (zh-CN first, then en). */
function notConvertedNote(leftOut: string[]): string {
  return [
    '以下图像未能转换为 JPEG，因此不在本压缩包中；原始 DICOM 文件在“原始 DICOM 文件（zip）”下载中。',
    'These images could not be converted to JPEG and are not in this zip; the original DICOM files are in the DICOM download.',
    '',
    ...leftOut,
    '',
  ].join('\r\n');
}
