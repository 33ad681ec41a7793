/**
 * Modalities whose series hold no images (PS3.3 C.7.3.1.1.1): reports, key-object
 * selections, presentation states, documents, RT plans and structures, registrations. A
 * study's ModalitiesInStudy lists them too (`CT\SR` once its report is signed), but the
 * exam is the CT: an SR is a report, not an exam.
 */
export const NON_IMAGE_MODALITIES: ReadonlySet<string> = new Set(['SR', 'KO', 'PR', 'DOC', 'RTPLAN', 'RTSTRUCT', 'RTRECORD', 'REG', 'FID']);

/** The first image modality of a backslash-separated ModalitiesInStudy value, or the first value when none is an image one. */
export function primaryImageModality(modalitiesInStudy: string | null | undefined): string | null {
  const modalities = (modalitiesInStudy ?? '').split('\\').map((value) => value.trim()).filter(Boolean);
  return modalities.find((modality) => !NON_IMAGE_MODALITIES.has(modality)) ?? modalities[0] ?? null;
}
