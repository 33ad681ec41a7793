import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** ../shared/dicom-samples beside the repository (real public DICOM files, see its README). */
export const SAMPLES_DIR = fileURLToPath(new URL('../../../../../shared/dicom-samples/', import.meta.url));

export function samplePath(relative: string): string {
  return path.join(SAMPLES_DIR, relative);
}

export function readSample(relative: string): Buffer {
  return readFileSync(samplePath(relative));
}

export interface ManifestEntry {
  path: string;
  transferSyntaxUid: string;
  specificCharacterSet: string;
  sopInstanceUid: string;
  numberOfFrames: string;
  notes: string;
}

/** MANIFEST.tsv rows: one per sample file. */
export function readManifest(): ManifestEntry[] {
  const [header, ...lines] = readFileSync(path.join(SAMPLES_DIR, 'MANIFEST.tsv'), 'utf8').trimEnd().split('\n');
  const columns = header.split('\t');
  const index = (name: string) => columns.indexOf(name);
  return lines.map((line) => {
    const cells = line.split('\t');
    return {
      path: cells[index('path')],
      transferSyntaxUid: cells[index('transfer_syntax_uid')],
      specificCharacterSet: cells[index('specific_character_set')],
      sopInstanceUid: cells[index('sop_instance_uid')],
      numberOfFrames: cells[index('number_of_frames')],
      notes: cells[index('notes')],
    };
  });
}
