/** Decodes text bytes given the (possibly multi-valued) Specific Character Set, with ISO 2022 escapes. */
export function decodeText(_bytes: Uint8Array, _specificCharacterSet: readonly string[] | undefined): string { throw new Error('not implemented'); }
/** Encodes text for the given Specific Character Set (e.g. GB18030, ISO_IR 192). */
export function encodeText(_text: string, _specificCharacterSet: readonly string[] | undefined): Buffer { throw new Error('not implemented'); }
