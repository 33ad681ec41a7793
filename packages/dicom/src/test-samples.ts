/**
 * Test helper (not a test): the shared DICOM sample set and its MANIFEST, resolved
 * relative to this package so the tests run from any working directory.
 */
import { readFileSync } from 'node:fs';

export const SAMPLES_DIR = new URL('../../../../shared/dicom-samples/', import.meta.url);

export type ManifestRow = Record<string, string> & { path: string };

let manifest: ManifestRow[] | undefined;

export function readManifest(): ManifestRow[] {
  if (!manifest) {
    const [header, ...lines] = readFileSync(new URL('MANIFEST.tsv', SAMPLES_DIR), 'utf8').trim().split('\n');
    const columns = header!.split('\t');
    manifest = lines.map((line) => Object.fromEntries(line.split('\t').map((cell, i) => [columns[i], cell])) as ManifestRow);
  }
  return manifest;
}

export function readSample(path: string): Buffer {
  return readFileSync(new URL(path, SAMPLES_DIR));
}

/** A SOP Instance UID the MANIFEST states plainly ("(absent)" and "(VR UN)" annotations excluded). */
export function manifestUid(row: ManifestRow): string | undefined {
  const uid = row.sop_instance_uid ?? '';
  return /^[0-9.]+$/.test(uid) ? uid : undefined;
}

export const CT = {
  implicit: 'transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2_implicit-vr-le.dcm',
  explicit: 'transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2.1_explicit-vr-le.dcm',
  bigEndian: 'transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2.2_explicit-vr-be.dcm',
  deflated: 'transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2.1.99_deflated.dcm',
} as const;
