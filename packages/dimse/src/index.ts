/**
 * @yunying/dimse: the DICOM upper layer (PS3.8) and DIMSE (PS3.7). PDUs, associations, an
 * SCU, and the SCP core, whose services are handlers (Store, Find, Retrieve) behind an AE
 * policy; DICOM over TLS on both sides. It knows nothing of archives, users or audit trails.
 */
export * from './pdu.ts';
export * from './dimse-message.ts';
export * from './association.ts';
export * from './association-limits.ts';
export * from './scu.ts';
export * from './scp.ts';
export * from './status.ts';
export * from './transcode.ts';
