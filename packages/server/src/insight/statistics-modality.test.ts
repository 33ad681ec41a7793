/**
 * Statistics count exams and images (issue 13 item 10): the report SR the platform stores when a
 * report is signed is not an exam modality and not an image, so a signed CT study stays one CT
 * study with its slices counted, on SQLite and PostgreSQL. QIDO keeps the standard answer:
 * ModalitiesInStudy (0008,0061) lists every modality in the study, SR included (PS3.18).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { makeSyntheticInstance, newUid } from '../test-support/synthetic-dicom.ts';
import { createTestDatabase, type TestDatabase } from '../test-support/postgres.ts';
import { createFixture, generateCt, signReport, startShareServer, storeAs, type Fixture, type GeneratedStudy, type ShareTestServer } from '../share/share-test-support.ts';

type Count = { key: string | null; studies: number; instances: number };

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`statistics by modality after a report is signed (${dialect})`, () => {
    let app: ShareTestServer;
    let fixture: Fixture;
    let ct: GeneratedStudy;
    let database: TestDatabase | undefined;

    before(async () => {
      if (dialect === 'postgres') database = await createTestDatabase();
      app = await startShareServer(database ? { env: { YUNYING_DATABASE_URL: database.url } } : {});
      fixture = await createFixture(app.baseUrl);
      ct = await generateCt(3);
      await storeAs(app.server, fixture.client.tokens.tech!, ct.files.values());
      await signReport(fixture, ct.studyInstanceUid, { findings: '未见异常。', impression: '正常。' });
      // a PET/CT study: two image modalities, named in order with the DICOM separator
      const petCt = newUid();
      await storeAs(app.server, fixture.client.tokens.tech!, ['PT', 'CT'].map((modality) => makeSyntheticInstance({ studyInstanceUid: petCt, modality }).bytes));
    });

    after(async () => {
      await app?.close();
      await database?.drop();
    });

    test('the SR of the report is stored; QIDO lists CT and SR; statistics show one CT study of 3 images', async () => {
      const qido = await fixture.client.call<Array<Record<string, { Value?: string[] }>>>('admin', 'GET', `/dicom-web/studies?StudyInstanceUID=${ct.studyInstanceUid}&includefield=00201208`, undefined, { accept: 'application/dicom+json' });
      assert.equal(qido.status, 200, qido.text);
      assert.deepEqual(qido.body[0]?.['00080061']?.Value, ['CT', 'SR'], 'QIDO answers every modality in the study');
      assert.equal(Number(qido.body[0]?.['00201208']?.Value?.[0]), 4, 'three slices and the report SR are stored');

      const byModality = await fixture.client.call<Count[]>('admin', 'GET', '/api/v1/statistics/studies?groupBy=modality');
      assert.equal(byModality.status, 200, byModality.text);
      assert.deepEqual(byModality.body, [{ key: 'CT', studies: 1, instances: 3 }, { key: 'CT\\PT', studies: 1, instances: 2 }]);
      const byInstitution = await fixture.client.call<Count[]>('admin', 'GET', '/api/v1/statistics/studies?groupBy=institution');
      assert.deepEqual(byInstitution.body, [{ key: fixture.township, studies: 2, instances: 5 }], 'images only, whatever the grouping');
    });
  });
}
