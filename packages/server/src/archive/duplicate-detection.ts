/**
 * "The same object" for an existing SOP Instance UID (docs/adr/0002-duplicate-sop-instances.md):
 * the same data set, whatever the file meta group around it. Over DIMSE our file meta names
 * the source AE, so an identical resend from another AE (a modality's second route, a gateway
 * and the modality itself) has other Part 10 bytes than the stored file, and must still be a
 * duplicate, not a replacement (issue 15, item 4).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { splitPart10 } from '@yunying/dicom';
import type { BlobStore } from '../store/blob-store.ts';

/** What ingest is about to store: consecutive pieces (a Part 10 file, or our header then a bare data set), or a staged file (a bare data set after `prefix`, or a Part 10 file). */
export type IncomingContent = { kind: 'pieces'; pieces: readonly Buffer[] } | { kind: 'file'; file: { path: string; size: number }; prefix?: Buffer };

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/**
 * The incoming data set is the stored one byte for byte (only the file meta group differs).
 * Ingest asks only when the whole-file hashes differ, which is rare: a resend of identical
 * bytes matches on the hash alone. A stored blob that cannot be read is not the same.
 */
export async function sameDatasetAsStored(blobs: BlobStore, existing: { blob_key: string; transfer_syntax_uid: string }, incoming: { content: IncomingContent; transferSyntaxUid: string }): Promise<boolean> {
  if (existing.transfer_syntax_uid !== incoming.transferSyntaxUid) return false;
  let stored: Buffer;
  try {
    stored = await blobs.get(existing.blob_key);
  } catch {
    return false;
  }
  const storedDataset = stored.subarray(splitPart10(stored).datasetOffset);
  const hash = await incomingDatasetSha256(incoming.content, storedDataset.length);
  return hash !== undefined && hash === sha256(storedDataset);
}

/** SHA-256 of the incoming data set without a file meta group; undefined when its length already differs from `expectedLength`. */
async function incomingDatasetSha256(content: IncomingContent, expectedLength: number): Promise<string | undefined> {
  if (content.kind === 'pieces') {
    const dataset = content.pieces.length === 2 ? content.pieces[1]! : content.pieces[0]!.subarray(splitPart10(content.pieces[0]!).datasetOffset);
    return dataset.length === expectedLength ? sha256(dataset) : undefined;
  }
  const { file } = content;
  let start = 0;
  if (!content.prefix) {
    // a Part 10 file: its meta group is at the beginning and small
    const handle = await open(file.path, 'r');
    try {
      const head = Buffer.allocUnsafe(Math.min(file.size, 64 * 1024));
      await handle.read(head, 0, head.length, 0);
      start = splitPart10(head).datasetOffset;
    } finally {
      await handle.close();
    }
  }
  if (file.size - start !== expectedLength) return undefined;
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file.path, { start })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
