/**
 * The one way tests find the DICOM files they need: the shared sample set (real public DICOM
 * files with their MANIFEST.tsv, see its README) and the synthetic-study generator beside it.
 *
 * Where: YUNYING_DICOM_SAMPLES when set, else ../shared/dicom-samples beside the repository
 * (where CI and the workstations keep it). The generator is bench/gen.js in the folder that
 * holds dicom-samples. A file that is not there fails the test with a message naming the path
 * it looked at and how to point the tests elsewhere, never an ENOENT from deep inside a test.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const REPOSITORY = path.resolve(import.meta.dirname, '../../..');

/** the dicom-samples folder (not checked: see samplePath) */
export const SAMPLES_DIR = process.env.YUNYING_DICOM_SAMPLES ? path.resolve(process.env.YUNYING_DICOM_SAMPLES) : path.resolve(REPOSITORY, '../shared/dicom-samples');

export class MissingSampleError extends Error {
  readonly missingPath: string;
  constructor(missingPath: string) {
    super(`test sample not found: ${missingPath} (the tests read the shared DICOM samples from ${SAMPLES_DIR}; set YUNYING_DICOM_SAMPLES to the dicom-samples folder if it is elsewhere)`);
    this.name = 'MissingSampleError';
    this.missingPath = missingPath;
  }
}

function existing(absolute: string): string {
  if (!existsSync(absolute)) throw new MissingSampleError(absolute);
  return absolute;
}

/** The absolute path of a sample (relative to dicom-samples, e.g. 'charset/chrX1.dcm'); throws naming it when missing. */
export function samplePath(relative: string): string {
  return existing(path.join(SAMPLES_DIR, relative));
}

export function readSample(relative: string): Buffer {
  return readFileSync(samplePath(relative));
}

/** The .dcm files of a sample folder, as paths relative to dicom-samples, sorted. */
export function sampleFiles(folder: string): string[] {
  return readdirSync(samplePath(folder))
    .filter((name) => name.endsWith('.dcm'))
    .sort()
    .map((name) => path.posix.join(folder, name));
}

/** ../shared/bench/gen.js: writes synthetic studies (CT series of any size, fresh UIDs). */
export function studyGeneratorPath(): string {
  return existing(path.join(path.dirname(SAMPLES_DIR), 'bench', 'gen.js'));
}

/** One MANIFEST.tsv row, by its column names (path, transfer_syntax_uid, number_of_frames, sop_instance_uid, notes, …). */
export type ManifestRow = Readonly<Record<string, string>> & { readonly path: string };

let manifest: ManifestRow[] | undefined;

/** MANIFEST.tsv: one row per sample file. */
export function readManifest(): ManifestRow[] {
  if (!manifest) {
    const [header = '', ...lines] = readFileSync(samplePath('MANIFEST.tsv'), 'utf8').trimEnd().split('\n');
    const columns = header.split('\t');
    manifest = lines.map((line) => Object.fromEntries(line.split('\t').map((cell, i) => [columns[i], cell])) as ManifestRow);
  }
  return manifest;
}

/** A SOP Instance UID the MANIFEST states plainly ("(absent)" and "(VR UN)" annotations excluded). */
export function manifestUid(row: ManifestRow): string | undefined {
  const uid = row.sop_instance_uid ?? '';
  return /^[0-9.]+$/.test(uid) ? uid : undefined;
}

/** The same CT image in the uncompressed transfer syntaxes. */
export const CT = {
  implicit: 'transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2_implicit-vr-le.dcm',
  explicit: 'transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2.1_explicit-vr-le.dcm',
  bigEndian: 'transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2.2_explicit-vr-be.dcm',
  deflated: 'transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2.1.99_deflated.dcm',
} as const;
