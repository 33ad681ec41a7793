/** The error type and the catalog (errors/): one import path for the whole server. */
export { YunyingError, badRequest, conflict, forbidden, notFound, notImplemented, unauthorized, type YunyingErrorOptions } from './errors/yunying-error.ts';
export { DIMSE_STATUS } from '@yunying/dicom/dimse-status';
export { ERROR_CATALOG, isErrorCode, type ErrorCode, type ErrorCodeWithStatus } from './errors/catalog.ts';
