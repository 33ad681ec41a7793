import type { Kysely } from 'kysely';
import type { MigrationSet } from '../modules/module.ts';

/**
 * The review stage (审核): signing PINs and the electronic signature of each signed version
 * (store/review-store.ts). Plain text and integer columns, the same SQL on SQLite and
 * PostgreSQL. A 'review-edit' version needs no schema: report_versions.kind is text.
 */
export const REVIEW_MIGRATIONS: MigrationSet = {
  '0016-report-review': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('user_signing_pins')
        .addColumn('username', 'text', (c) => c.primaryKey())
        .addColumn('pin_hash', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('report_signatures')
        .addColumn('report_id', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('signer', 'text', (c) => c.notNull())
        .addColumn('signed_at', 'text', (c) => c.notNull())
        .addColumn('method', 'text', (c) => c.notNull())
        .addColumn('submitted_version', 'integer', (c) => c.notNull())
        .addColumn('review_edit_version', 'integer')
        .addPrimaryKeyConstraint('report_signatures_pk', ['report_id', 'version'])
        .execute();
    },
  },
};
