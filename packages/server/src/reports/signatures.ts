/**
 * Signers' signature images (PNG) for the report PDF: validated here, stored in
 * user_signatures (migration 0014, store/signature-store.ts), set at the console with
 * `yunying user signature USERNAME FILE`. A signature is drawn beside the author's and the
 * reviewer's name; without one the PDF prints the name alone, as before.
 */
import { createHash } from 'node:crypto';
import type { Caller } from '../access/caller.ts';
import { badRequest, notFound } from '../errors.ts';
import type { AccessStore } from '../store/access-store.ts';
import { signatureStore } from '../store/signature-store.ts';
import type { UnitOfWork } from '../store/unit-of-work.ts';

/** A scanned signature is a few KiB to tens of KiB; more is a photograph, not a signature. */
export const SIGNATURE_MAX_BYTES = 256 * 1024;
/** Wider or taller than this is not a signature line either (and would cost memory to decode). */
const SIGNATURE_MAX_SIDE = 4000;
const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * A real PNG within the limits: the 8-byte signature, then an IHDR chunk (PNG's first chunk
 * always) with a sane size. The image's own decoder (PDFKit's) checks the rest when the PDF
 * is drawn; this keeps a JPEG renamed .png, a truncated file or a huge image out of the table.
 */
export function validateSignaturePng(png: Buffer): { width: number; height: number } {
  if (png.length > SIGNATURE_MAX_BYTES) throw badRequest('INVALID_BODY', `the signature image is ${png.length} bytes, at most ${SIGNATURE_MAX_BYTES} are allowed`);
  if (png.length < 33 || !png.subarray(0, 8).equals(PNG_MAGIC)) throw badRequest('INVALID_BODY', 'the signature image is not a PNG file');
  if (png.readUInt32BE(8) !== 13 || png.toString('latin1', 12, 16) !== 'IHDR') throw badRequest('INVALID_BODY', 'the signature PNG has no IHDR header chunk');
  const width = png.readUInt32BE(16);
  const height = png.readUInt32BE(20);
  if (width < 1 || height < 1 || width > SIGNATURE_MAX_SIDE || height > SIGNATURE_MAX_SIDE) throw badRequest('INVALID_BODY', `the signature image is ${width}×${height} pixels, at most ${SIGNATURE_MAX_SIDE} on a side`);
  return { width, height };
}

/** Sets a user's signature (replacing one set before), audited with the image's SHA-256 and size. */
export async function setUserSignature(deps: { access: AccessStore; unitOfWork: UnitOfWork }, caller: Caller, username: string, png: Buffer): Promise<{ sha256: string; width: number; height: number; bytes: number }> {
  const { width, height } = validateSignaturePng(png);
  const user = await deps.access.findUserByName(username);
  if (!user) throw notFound(`user ${username}`);
  const sha256 = createHash('sha256').update(png).digest('hex');
  await deps.unitOfWork.run(async (tx) => {
    await tx.open(signatureStore).put({ username, png_base64: png.toString('base64'), sha256, updated_at: new Date().toISOString(), updated_by: caller.name });
    tx.audit.record({ action: 'user.signature.set', caller, objectType: 'user', objectId: user.id, details: { username, sha256, bytes: png.length, width, height } });
  });
  return { sha256, width, height, bytes: png.length };
}

/** Removes a user's signature; false when there was none. */
export async function removeUserSignature(deps: { access: AccessStore; unitOfWork: UnitOfWork }, caller: Caller, username: string): Promise<boolean> {
  const user = await deps.access.findUserByName(username);
  if (!user) throw notFound(`user ${username}`);
  return deps.unitOfWork.run(async (tx) => {
    const removed = await tx.open(signatureStore).remove(username);
    if (removed) tx.audit.record({ action: 'user.signature.removed', caller, objectType: 'user', objectId: user.id, details: { username } });
    return removed;
  });
}
