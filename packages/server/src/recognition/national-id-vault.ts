import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { maskResidentId } from './resident-id.ts';

/**
 * How a resident ID is kept (issue 17: "stored hashed and encrypted, shown masked, searchable
 * by exact value only"):
 * - hash: HMAC-SHA-256 under a secret key, the only form lookups and links use. A plain hash
 *   would not do: the ID space (address code, birth date, sequence) is small enough to hash
 *   every ID, so whoever read the database would read the IDs.
 * - cipher: AES-256-GCM, so an administrator's export or a later re-keying can recover it.
 * - masked: what every screen shows.
 * The keys are derived (HKDF) from the audit chain's key, the platform's one secret that lives
 * outside the database (access/audit-key.ts): one more secret to distribute to every server
 * process would be one more to get wrong.
 */
export interface SealedNationalId {
  hash: string;
  cipher: string;
  masked: string;
}

export class NationalIdVault {
  private readonly hashKey: Buffer;
  private readonly encryptionKey: Buffer;

  constructor(secret: Buffer) {
    const derived = Buffer.from(hkdfSync('sha256', secret, 'yunying', 'national resident id', 64));
    this.hashKey = derived.subarray(0, 32);
    this.encryptionKey = derived.subarray(32, 64);
  }

  /** The lookup form of a (valid, normalised) ID. */
  hash(id: string): string {
    return createHmac('sha256', this.hashKey).update(id, 'utf8').digest('hex');
  }

  seal(id: string): SealedNationalId {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.encryptionKey, iv);
    const body = Buffer.concat([cipher.update(id, 'utf8'), cipher.final()]);
    return { hash: this.hash(id), cipher: `v1.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')}`, masked: maskResidentId(id) };
  }

  open(sealed: string): string {
    const [version, payload] = sealed.split('.');
    if (version !== 'v1' || !payload) throw new Error('not a sealed resident ID');
    const bytes = Buffer.from(payload, 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', this.encryptionKey, bytes.subarray(0, 12));
    decipher.setAuthTag(bytes.subarray(12, 28));
    return Buffer.concat([decipher.update(bytes.subarray(28)), decipher.final()]).toString('utf8');
  }
}
