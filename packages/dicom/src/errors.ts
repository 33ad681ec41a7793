/** Input that is not a readable DICOM data set: the message says why, in a few words. */
export class DicomParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DicomParseError';
  }
}
