/**
 * Migration 0024-pn-phonetic-index fills the new PN columns (ReferringPhysicianName's
 * matching columns, both names' pinyin forms) for studies stored before it, on SQLite and
 * PostgreSQL: the database is put back as 0023 left it and opened again.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import { buildPart10, encodeDataset, TRANSFER_SYNTAX, type DicomJsonDataset } from '@yunying/dicom';
import { systemCaller } from '../access/caller.ts';
import { openArchive, type Archive } from '../archive/archive.ts';
import { createTestDatabase } from '../test-support/postgres.ts';
import { makeSyntheticInstance, newUid } from '../test-support/synthetic-dicom.ts';
import { PN_PHONETIC_COLUMNS } from './migrations.ts';

const MIGRATION = '0024-pn-phonetic-index';

/** A synthetic CT with the names set: its data set re-encoded with two PN elements changed. */
function instanceWithNames(accession: string): Buffer {
  const made = makeSyntheticInstance({ studyInstanceUid: newUid(), accessionNumber: accession });
  const dataset: DicomJsonDataset = {
    '00080005': { vr: 'CS', Value: ['ISO_IR 192'] },
    '00080016': { vr: 'UI', Value: [made.sopClassUid] },
    '00080018': { vr: 'UI', Value: [made.sopInstanceUid] },
    '00080050': { vr: 'SH', Value: [accession] },
    '00080060': { vr: 'CS', Value: ['CT'] },
    '00080090': { vr: 'PN', Value: [{ Alphabetic: 'LIU^QIANG', Ideographic: '刘^强' }] },
    '00100010': { vr: 'PN', Value: [{ Ideographic: '张^三' }] },
    '0020000D': { vr: 'UI', Value: [made.studyInstanceUid] },
    '0020000E': { vr: 'UI', Value: [made.seriesInstanceUid] },
  };
  return buildPart10(encodeDataset(dataset, TRANSFER_SYNTAX.EXPLICIT_LE), { transferSyntaxUid: TRANSFER_SYNTAX.EXPLICIT_LE, sopClassUid: made.sopClassUid, sopInstanceUid: made.sopInstanceUid });
}

async function accessionsOf(archive: Archive, keys: DicomJsonDataset, fuzzyMatching = false): Promise<string[]> {
  const results = await archive.query(systemCaller(), { level: 'STUDY', keys: { ...keys, '00080050': { vr: 'SH' } }, fuzzyMatching });
  return results.map((r) => String(r['00080050']?.Value?.[0]));
}

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`migration ${MIGRATION} on ${backend}`, () => {
    test('studies stored before it are found by ReferringPhysicianName per group and by pinyin', async () => {
      const dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-0024-'));
      const database = backend === 'postgres' ? await createTestDatabase() : undefined;
      const open = () => openArchive({ dataDir, fsync: false, databaseUrl: database?.url });
      const accession = `M${Date.now() % 1_000_000}`;
      try {
        const first = await open();
        assert.equal((await first.ingest(systemCaller(), { kind: 'part10', bytes: instanceWithNames(accession) })).outcome, 'stored');
        await first.close();

        // Back to what 0023 left: the columns gone, the migration and the core ones after it (0025, 0028) not run.
        const statements = [
          ...PN_PHONETIC_COLUMNS.map((column) => `alter table studies drop column ${column}`),
          'drop table study_user_grants',
          'drop index study_grants_granted_for', // 0028, before the column it indexes
          'alter table study_grants drop column granted_for',
          `delete from kysely_migration where name >= '${MIGRATION}'`,
        ];
        if (database) {
          const client = new pg.Client({ connectionString: database.url });
          await client.connect();
          for (const statement of statements) await client.query(statement);
          await client.end();
        } else {
          const file = new SqliteDatabase(path.join(dataDir, 'index.sqlite'));
          for (const statement of statements) file.prepare(statement).run();
          file.close();
        }

        const archive = await open();
        try {
          assert.deepEqual(await accessionsOf(archive, { '00080090': { vr: 'PN', Value: [{ Alphabetic: '刘*' }] } }), [accession]);
          assert.deepEqual(await accessionsOf(archive, { '00080090': { vr: 'PN', Value: [{ Alphabetic: 'liu^qiang' }] } }), [accession]);
          assert.deepEqual(await accessionsOf(archive, { '00100010': { vr: 'PN', Value: [{ Alphabetic: 'zhang*' }] } }), [], 'literal: no pinyin');
          assert.deepEqual(await accessionsOf(archive, { '00100010': { vr: 'PN', Value: [{ Alphabetic: 'zhang*' }] } }, true), [accession], 'fuzzy: pinyin');
        } finally {
          await archive.close();
        }
      } finally {
        await database?.drop();
        await rm(dataDir, { recursive: true, force: true });
      }
    });
  });
}
