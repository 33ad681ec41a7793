/**
 * Compression on ingest over real HTTP, on SQLite and PostgreSQL: off by default (stored and
 * retrieved byte-exact); an administrator turns HTJ2K lossless on for one institution, whose
 * next uncompressed CT is stored in HTJ2K (WADO-RS transfer-syntax=* says so), decodes to the
 * received pixels exactly, and is recorded as compressed on ingest; another institution's
 * objects stay as received. Only administrators read or change the setting; changes are audited.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { getPixelDataInfo, parseDicom, toDicomJson } from '@yunying/dicom';
import { readSample } from '@yunying/testing/samples';
import { readMultipart, stowBody } from '../dicomweb/test-support.ts';
import { TEST_ADMIN_PASSWORD } from '../test-support/admin-auth.ts';
import { callHttp, loginForToken, type HttpAnswer } from '../test-support/http-client.ts';
import { startListeningServer, type ListeningServer } from '../test-support/listening-server.ts';
import { createTestDatabase, type TestDatabase } from '../test-support/postgres.ts';
import { sharedTranscoder } from '../transcoding/index.ts';

const PASSWORD = 'Correct-Horse-9';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const HTJ2K_LOSSLESS = '1.2.840.10008.1.2.4.201';
const CT = 'transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2.1_explicit-vr-le.dcm';
const MR = 'transfer-syntax/mr-small/MR_small.dcm';
const MR_IMPLICIT = 'series/mr-16-slices/MR01.dcm';

function uidsOf(bytes: Buffer): { study: string; series: string; sop: string } {
  const json = toDicomJson(parseDicom(bytes, { untilPixelData: true }));
  const value = (tag: string) => String(json[tag]!.Value![0]);
  return { study: value('0020000D'), series: value('0020000E'), sop: value('00080018') };
}

/** The Pixel Data bytes of one frame-sized image (not the pad byte of an odd length). */
function pixels(bytes: Buffer): Buffer {
  const parsed = parseDicom(bytes);
  const info = getPixelDataInfo(parsed)!;
  const raw = parsed.raw as { byteArray: Uint8Array; elements: Record<string, { dataOffset: number; length: number }> };
  const el = raw.elements.x7fe00010!;
  const length = info.rows * info.columns * info.samplesPerPixel * (info.bitsAllocated / 8) * info.numberOfFrames;
  return Buffer.from(raw.byteArray.subarray(el.dataOffset, el.dataOffset + Math.min(length, el.length)));
}

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`${backend}: compression on ingest`, () => {
    let platform: ListeningServer;
    let database: TestDatabase | undefined;
    const tokens: Record<string, string> = {};
    const call = (who: string, method: string, url: string, body?: unknown): Promise<HttpAnswer> => callHttp(platform.baseUrl, method, url, { token: tokens[who], body });

    async function stow(who: string, bytes: Buffer): Promise<void> {
      const { payload, contentType } = stowBody([bytes]);
      const response = await fetch(`${platform.baseUrl}/dicom-web/studies`, { method: 'POST', headers: { authorization: `Bearer ${tokens[who]}`, 'content-type': contentType }, body: payload });
      assert.equal(response.status, 200, await response.text());
    }

    /** WADO-RS instance retrieval; `transferSyntax` undefined: no parameter (Explicit VR LE by PS3.18). */
    async function retrieve(who: string, bytes: Buffer, transferSyntax?: string): Promise<Buffer> {
      const { study, series, sop } = uidsOf(bytes);
      const accept = `multipart/related; type="application/dicom"${transferSyntax ? `; transfer-syntax=${transferSyntax}` : ''}`;
      const response = await fetch(`${platform.baseUrl}/dicom-web/studies/${study}/series/${series}/instances/${sop}`, { headers: { authorization: `Bearer ${tokens[who]}`, accept } });
      const body = Buffer.from(await response.arrayBuffer());
      assert.equal(response.status, 200, body.toString('utf8').slice(0, 300));
      const parts = readMultipart(response.headers.get('content-type') ?? undefined, body);
      assert.equal(parts.length, 1);
      return parts[0]!.body;
    }

    async function instanceRow(bytes: Buffer) {
      const row = await platform.server.archive.index.findInstance(uidsOf(bytes).sop);
      assert.ok(row);
      return row;
    }

    before(async () => {
      database = backend === 'postgres' ? await createTestDatabase() : undefined;
      platform = await startListeningServer(database ? { YUNYING_DATABASE_URL: database.url } : {});
      tokens.admin = await loginForToken(platform.baseUrl, 'admin', TEST_ADMIN_PASSWORD);
      for (const institution of [
        { id: 'ks-county', name: '昆山市第一人民医院', tier: 'county' },
        { id: 'ks-t1', name: '周市镇卫生院', tier: 'township', parentId: 'ks-county' },
        { id: 'ks-t2', name: '陆家镇卫生院', tier: 'township', parentId: 'ks-county' },
      ]) assert.equal((await call('admin', 'POST', '/api/v1/institutions', institution)).status, 201);
      for (const [username, role, institutionId] of [['tech1', 'technologist', 'ks-t1'], ['tech2', 'technologist', 'ks-t2']] as const) {
        assert.equal((await call('admin', 'POST', '/api/v1/users', { username, password: PASSWORD, role, institutionId })).status, 201);
        tokens[username] = await loginForToken(platform.baseUrl, username, PASSWORD);
      }
    });
    after(async () => {
      await platform?.close();
      await database?.drop();
    });

    test('off by default: stored and retrieved byte-exact, nothing recorded', async () => {
      const initial = await call('admin', 'GET', '/api/v1/settings/ingest-compression?institutionId=ks-t1');
      assert.equal(initial.status, 200, initial.text);
      assert.deepEqual(initial.body, { institutionId: 'ks-t1', compression: 'off', source: 'default' });
      const mr = readSample(MR);
      await stow('tech1', mr);
      assert.ok((await retrieve('tech1', mr, '*')).equals(mr), 'the object as received');
      const row = await instanceRow(mr);
      assert.equal(row.transfer_syntax_uid, EXPLICIT_LE);
      assert.equal(row.original_transfer_syntax_uid, null);
      assert.equal(row.original_sha256, null);
    });

    test('only administrators read or change it; bad values are refused', async () => {
      assert.equal((await call('tech1', 'GET', '/api/v1/settings/ingest-compression')).status, 403);
      assert.equal((await call('tech1', 'PUT', '/api/v1/settings/ingest-compression', { institutionId: 'ks-t1', compression: 'htj2k-lossless' })).status, 403);
      assert.equal((await call('admin', 'PUT', '/api/v1/settings/ingest-compression', { institutionId: 'ks-t1', compression: 'jpeg-lossy' })).status, 400);
      assert.equal((await call('admin', 'PUT', '/api/v1/settings/ingest-compression', { institutionId: 'nowhere', compression: 'htj2k-lossless' })).status, 404);
      const view = await call('admin', 'GET', '/api/v1/settings/ingest-compression?institutionId=ks-t1');
      assert.equal((view.body as { compression: string }).compression, 'off');
    });

    test('on for one institution: its uncompressed CT is stored in HTJ2K lossless, decodes pixel-exact, and says so; the other institution’s stays as received', async () => {
      const set = await call('admin', 'PUT', '/api/v1/settings/ingest-compression', { institutionId: 'ks-t1', compression: 'htj2k-lossless' });
      assert.equal(set.status, 200, set.text);
      assert.equal((set.body as { transferSyntaxUid: string; source: string }).transferSyntaxUid, HTJ2K_LOSSLESS);
      assert.equal((set.body as { source: string }).source, 'institution');
      const audited = await platform.server.archive.audit.search({ action: 'settings.updated', limit: 10 });
      assert.ok(audited.some((entry) => JSON.stringify(entry).includes('ingest-compression')), 'the change is audited');

      const ct = readSample(CT);
      await stow('tech1', ct);
      const stored = await retrieve('tech1', ct, '*');
      assert.equal(parseDicom(stored).transferSyntaxUid, HTJ2K_LOSSLESS, 'stored compressed');
      assert.ok(stored.length < ct.length * 0.6, `${stored.length} bytes for ${ct.length}`);
      const decoded = await sharedTranscoder().transcodePart10(stored, EXPLICIT_LE);
      assert.ok(pixels(decoded).equals(pixels(ct)), 'the stored pixels are the received ones');
      const asDefault = await retrieve('tech1', ct);
      assert.equal(parseDicom(asDefault).transferSyntaxUid, EXPLICIT_LE);
      assert.ok(pixels(asDefault).equals(pixels(ct)), 'WADO-RS without transfer-syntax decodes it back');
      const row = await instanceRow(ct);
      assert.equal(row.transfer_syntax_uid, HTJ2K_LOSSLESS);
      assert.equal(row.original_transfer_syntax_uid, EXPLICIT_LE);
      assert.equal(row.original_sha256, createHash('sha256').update(ct).digest('hex'));
      assert.equal(Number(row.size), stored.length);
      // an identical resend is still a duplicate (the encoder is deterministic)
      await stow('tech1', ct);
      assert.equal((await instanceRow(ct)).content_sha256, row.content_sha256);

      const other = readSample(MR_IMPLICIT);
      await stow('tech2', other);
      assert.ok((await retrieve('tech2', other, '*')).equals(other), 'ks-t2 did not choose compression');
      assert.equal((await instanceRow(other)).original_transfer_syntax_uid, null);

      const off = await call('admin', 'PUT', '/api/v1/settings/ingest-compression', { institutionId: 'ks-t1', compression: 'off' });
      assert.equal(off.status, 200, off.text);
    });
  });
}
