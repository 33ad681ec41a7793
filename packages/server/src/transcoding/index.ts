/**
 * Transcoding on the way out (issue 15, item 1): an instance stored in one transfer syntax,
 * produced in another for a client or peer that cannot take the stored one.
 *
 * contract.ts holds the signatures the DIMSE retrieve path and WADO-RS code against; the
 * implementation is transcoder.ts (decoders for every syntax the archive accepts, in the shared
 * decode workers of rendering/frame-decoder.ts).
 */
import { createDefaultTranscoder } from './transcoder.ts';

export { EXPLICIT_VR_LE, IMPLICIT_VR_LE, type Transcoder } from './contract.ts';
import type { Transcoder } from './contract.ts';

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
