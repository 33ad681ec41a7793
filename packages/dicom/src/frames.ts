import type { ParsedDicom } from './parse.ts';
export interface PixelDataInfo {
  rows: number; columns: number; samplesPerPixel: number; bitsAllocated: number; bitsStored: number;
  pixelRepresentation: number; photometricInterpretation: string; numberOfFrames: number;
  planarConfiguration: number; rescaleSlope: number; rescaleIntercept: number;
  windowCenter?: number; windowWidth?: number;
  transferSyntaxUid: string; encapsulated: boolean;
}
export function getPixelDataInfo(_parsed: ParsedDicom): PixelDataInfo | undefined { throw new Error('not implemented'); }
export function countFrames(_parsed: ParsedDicom): number { throw new Error('not implemented'); }
/** Frame `frameNumber` (1-based) as stored: native bytes or the encapsulated fragments joined. Big endian native data is returned as stored. */
export function getFrame(_parsed: ParsedDicom, _frameNumber: number): Uint8Array { throw new Error('not implemented'); }
