/**
 * The transcoder's contract (issue 15, item 1), apart from the process's instance in index.ts so
 * that the implementation (transcoder.ts) can name it without a cycle.
 */
import { TRANSFER_SYNTAX, type ParsedDicom } from '@yunying/dicom';

export const IMPLICIT_VR_LE = TRANSFER_SYNTAX.IMPLICIT_LE;
export const EXPLICIT_VR_LE = TRANSFER_SYNTAX.EXPLICIT_LE;

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
