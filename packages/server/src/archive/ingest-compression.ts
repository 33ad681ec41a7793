/**
 * Compression on ingest, as the ingest pipeline sees it (issue 15 item 1): a port the settings
 * module fills (settings/ingest-compression.ts: the administrator's choice per institution,
 * the lossless encoder). Without it, or with the institution's choice off, ingest stores
 * what it received, byte for byte, and does not even look at the pixels.
 */
import { readFile } from 'node:fs/promises';
import type { StagedFile } from './archive-service.ts';

export interface IngestCompression {
  /** the lossless transfer syntax an institution's new instances are stored in; undefined: as received */
  syntaxFor(institutionId: string): Promise<string | undefined>;
  /** the Part 10 file compressed in `syntax`, or undefined when it is kept as received */
  compress(part10: Buffer, syntax: string): Promise<Buffer | undefined>;
}

/** A staged object larger than this is stored as received (compressing reads it whole into memory). */
export const MAX_COMPRESSED_ON_INGEST_BYTES = 256 * 1024 * 1024;

/** What ingest stores instead of the received bytes, and what it records about them. */
export interface CompressedOnIngest {
  bytes: Buffer;
  transferSyntaxUid: string;
}

type ReceivedContent = { kind: 'pieces'; pieces: Buffer[] } | { kind: 'file'; file: StagedFile; prefix?: Buffer };

/** The compressed object, or undefined when the institution's choice is off or the object is kept as received. */
export async function compressReceived(compression: IngestCompression, institutionId: string, content: ReceivedContent, size: number): Promise<CompressedOnIngest | undefined> {
  const syntax = await compression.syntaxFor(institutionId);
  if (!syntax || size > MAX_COMPRESSED_ON_INGEST_BYTES) return undefined;
  const part10 = content.kind === 'pieces' ? Buffer.concat(content.pieces) : Buffer.concat([content.prefix ?? Buffer.alloc(0), await readFile(content.file.path)]);
  const bytes = await compression.compress(part10, syntax);
  return bytes ? { bytes, transferSyntaxUid: syntax } : undefined;
}
