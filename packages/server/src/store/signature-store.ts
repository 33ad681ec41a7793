import type { Kysely } from 'kysely';
import type { StoreOpener } from './store-opener.ts';

/**
 * Signers' signature images (user_signatures, migration 0014) for the report PDF, opened as
 * a module store (`archive.stores.open(signatureStore)`, `tx.open(signatureStore)`); the
 * validation and the audited change are reports/signatures.ts.
 */
export interface UserSignatureTable {
  username: string;
  png_base64: string;
  sha256: string;
  updated_at: string;
  updated_by: string;
}

interface SignatureTables {
  user_signatures: UserSignatureTable;
}

export class SignatureStore {
  private readonly db: Kysely<SignatureTables>;
  constructor(db: Kysely<SignatureTables>) {
    this.db = db;
  }

  async find(username: string): Promise<Buffer | undefined> {
    const row = await this.db.selectFrom('user_signatures').select('png_base64').where('username', '=', username).executeTakeFirst();
    return row ? Buffer.from(row.png_base64, 'base64') : undefined;
  }

  async put(row: UserSignatureTable): Promise<void> {
    const { png_base64, sha256, updated_at, updated_by } = row;
    await this.db.insertInto('user_signatures').values(row).onConflict((oc) => oc.column('username').doUpdateSet({ png_base64, sha256, updated_at, updated_by })).execute();
  }

  async remove(username: string): Promise<boolean> {
    const result = await this.db.deleteFrom('user_signatures').where('username', '=', username).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }
}

export const signatureStore: StoreOpener<SignatureStore, SignatureTables> = (db) => new SignatureStore(db);
