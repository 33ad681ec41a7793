/**
 * Transcoding on the way out (issue 15, item 1): an instance stored in one transfer syntax,
 * produced in another for a client or peer that cannot take the stored one.
 *
 * The signatures below are the contract the DIMSE retrieve path and WADO-RS code against; the
 * implementation is transcoder.ts (decoders for every syntax the archive accepts, in the shared
 * decode workers of rendering/frame-decoder.ts).
 */
import type { ParsedDicom } from '@yunying/dicom';
import { createDefaultTranscoder } from './transcoder.ts';

export const IMPLICIT_VR_LE = '1.2.840.10008.1.2';
export const EXPLICIT_VR_LE = '1.2.840.10008.1.2.1';

export interface Transcoder {
  /** true when an instance stored in `from` can be produced in `to` (`from === to` is always true) */
  canTranscode(from: string, to: string): boolean;
  /**
   * A Part 10 file in, the same instance as a Part 10 file in `to`: the file meta rewritten
   * (TransferSyntaxUID), compressed pixel data decoded to native little-endian frames with
   * PhotometricInterpretation / PlanarConfiguration made true of the decoded pixels, big
   * endian and deflate undone. Returns the input unchanged when it already is in `to`.
   * Throws YunyingError('TRANSCODE_FAILED' | 'FRAME_NOT_DECODABLE', …) when it cannot.
   */
  transcodePart10(part10: Buffer, to: string): Promise<Buffer>;
  /**
   * One frame (1-based) of a parsed instance as native little-endian pixel bytes, exactly as the
   * frame would be inside Pixel Data of the Explicit VR Little Endian form of the instance.
   */
  decodeFrameNative(parsed: ParsedDicom, frameNumber: number): Promise<Uint8Array>;
}

let shared: Transcoder | undefined;

/** The process's transcoder (it decodes in the shared frame-decoder pool), made on first use. */
export function sharedTranscoder(): Transcoder {
  shared ??= createDefaultTranscoder();
  return shared;
}

/** Replaces the process's transcoder (tests; a server with its own decoder pool). */
export function installTranscoder(transcoder: Transcoder): void {
  shared = transcoder;
}
