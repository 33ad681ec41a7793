import { createHmac, randomBytes } from 'node:crypto';
import { link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { YunyingError } from '../errors.ts';

/**
 * The key of the audit chain's HMAC (issue 12, finding 20). It lives outside the database:
 * whoever can write the database but does not hold the key cannot re-hash an edited record.
 */
export interface AuditKey {
  key: Buffer;
  /** a fingerprint that names the key in the trail and in messages without revealing it */
  id: string;
  /**
   * May this key start keying a chain that already holds unkeyed records? Yes when the key
   * was just created (the first start after the upgrade) or is configured explicitly
   * (YUNYING_AUDIT_KEY); no when it was read from an existing file: a chain whose keying
   * record vanished although its key file was there has been rewritten.
   */
  mayKeyExistingChain: boolean;
}

export interface AuditKeySource {
  /** YUNYING_AUDIT_KEY: at least 32 characters */
  key?: string;
  /** YUNYING_AUDIT_KEY_FILE [DATA_DIR/audit-key]: created on first start, mode 0600 */
  keyFile?: string;
  dataDir: string;
}

export const MIN_AUDIT_KEY_LENGTH = 32;

export function auditKeyId(key: Buffer): string {
  return createHmac('sha256', key).update('yunying audit key id').digest('hex').slice(0, 16);
}

/** Reads the key (or creates the key file, once, even with several processes starting at once). Never logs it. */
export async function loadAuditKey(source: AuditKeySource): Promise<AuditKey> {
  if (source.key !== undefined) {
    if (source.key.length < MIN_AUDIT_KEY_LENGTH) throw new YunyingError('AUDIT_KEY_TOO_SHORT', `YUNYING_AUDIT_KEY must be at least ${MIN_AUDIT_KEY_LENGTH} characters`);
    const key = Buffer.from(source.key, 'utf8');
    return { key, id: auditKeyId(key), mayKeyExistingChain: true };
  }
  const file = source.keyFile ?? path.join(source.dataDir, 'audit-key');
  let created = false;
  await mkdir(path.dirname(file), { recursive: true });
  // Written aside, then linked into place: link fails if the file exists, so exactly one of
  // several processes starting at once creates it, and nobody reads a half-written key.
  const draft = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(draft, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
  try {
    await link(draft, file);
    created = true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    await rm(draft, { force: true });
  }
  const text = (await readFile(file, 'utf8')).trim();
  if (text.length < MIN_AUDIT_KEY_LENGTH) throw new YunyingError('AUDIT_KEY_TOO_SHORT', `the audit key file ${file} must hold at least ${MIN_AUDIT_KEY_LENGTH} characters`);
  const key = Buffer.from(text, 'utf8');
  return { key, id: auditKeyId(key), mayKeyExistingChain: created };
}

/** A fresh key held in memory only: for tests and benchmarks whose trail ends with the process. */
export function ephemeralAuditKey(): AuditKey {
  const key = randomBytes(32);
  return { key, id: auditKeyId(key), mayKeyExistingChain: true };
}
