/**
 * @yunying/dicom — pure DICOM helpers: Part 10 read/write, the DICOM JSON model,
 * character sets, pixel-data frames. No I/O.
 *
 * CONTRACT (the server codes against these names; keep them stable):
 */
export * from './types.ts';
export {
  DicomParseError,
  parseDicom,
  type ParsedDicom,
  type ParseOptions,
} from './parse.ts';
export { readIndexAttributes } from './index-attributes.ts';
export { toDicomJson, type DicomJsonOptions } from './dicom-json.ts';
export { encodeDataset, type EncodeDatasetOptions } from './dataset-writer.ts';
export {
  splitPart10,
  buildPart10,
  buildPart10Header,
  type Part10Header,
  IMPLEMENTATION_CLASS_UID,
  IMPLEMENTATION_VERSION_NAME,
} from './part10.ts';
export { getFrame, countFrames, type PixelDataInfo, getPixelDataInfo } from './frames.ts';
export { decodeText, encodeText } from './charset.ts';
export { dictionaryVr } from './vr-dictionary.ts';
export { toDicomXml } from './dicom-xml.ts';
export { setTopLevelTextElements, type TextElementChange } from './edit.ts';
export { isValidUid, findInvalidUids, UID_MAX_LENGTH, type InvalidUid } from './uid.ts';
export { NON_IMAGE_MODALITIES, primaryImageModality } from './modalities.ts';
export { BODY_PARTS, bodyPartName, bodyPartNames, type BodyPartName, type BodyPartLanguage } from './body-parts.ts';
export {
  MultipartError,
  TooManyPartsError,
  MultipartScanner,
  splitMultipart,
  readMultipart,
  readAll,
  iterateBytes,
  newBoundary,
  partHeader,
  closeDelimiter,
  multipartPieces,
  encodeMultipart,
  multipartContentType,
  type MultipartOptions,
  type MultipartEvent,
  type MultipartPart,
  type PartHeaders,
  type StreamedPart,
  type ByteSource,
  type OutgoingPart,
} from './multipart.ts';
