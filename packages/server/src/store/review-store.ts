import type { Kysely } from 'kysely';
import type { StoreOpener } from './store-opener.ts';

/**
 * The review stage's tables (migration 0016-report-review, reports/module.ts), opened as a
 * module store (`archive.stores.open(reviewStore)`, `tx.open(reviewStore)`):
 *
 * - user_signing_pins: a user's optional signing PIN, hashed like a password
 *   (access/passwords.ts), set by the user after proving the password;
 * - report_signatures: the electronic signature of each signed version: who signed, when,
 *   how (password or PIN), and which submitted version of the author it signed (and whether
 *   the reviewer changed it first, a 'review-edit' version in report_versions).
 */
export interface SigningPinTable {
  username: string;
  pin_hash: string;
  updated_at: string;
}

export interface ReportSignatureTable {
  report_id: string;
  /** the 'signed' version in report_versions */
  version: number;
  signer: string;
  signed_at: string;
  /** 'password' or 'pin' */
  method: string;
  /** the author's submitted version the signature is based on */
  submitted_version: number;
  /** the reviewer's 'review-edit' version, when the reviewer changed the text before signing */
  review_edit_version: number | null;
}

interface ReviewTables {
  user_signing_pins: SigningPinTable;
  report_signatures: ReportSignatureTable;
}

export class ReviewStore {
  private readonly db: Kysely<ReviewTables>;
  constructor(db: Kysely<ReviewTables>) {
    this.db = db;
  }

  async signingPin(username: string): Promise<SigningPinTable | undefined> {
    return this.db.selectFrom('user_signing_pins').selectAll().where('username', '=', username).executeTakeFirst();
  }

  async putSigningPin(row: SigningPinTable): Promise<void> {
    await this.db.insertInto('user_signing_pins').values(row).onConflict((oc) => oc.column('username').doUpdateSet({ pin_hash: row.pin_hash, updated_at: row.updated_at })).execute();
  }

  async removeSigningPin(username: string): Promise<boolean> {
    const result = await this.db.deleteFrom('user_signing_pins').where('username', '=', username).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async insertSignature(row: ReportSignatureTable): Promise<void> {
    await this.db.insertInto('report_signatures').values(row).execute();
  }

  async signaturesOf(reportId: string): Promise<ReportSignatureTable[]> {
    return this.db.selectFrom('report_signatures').selectAll().where('report_id', '=', reportId).orderBy('version').execute();
  }
}

export const reviewStore: StoreOpener<ReviewStore, ReviewTables> = (db) => new ReviewStore(db);
