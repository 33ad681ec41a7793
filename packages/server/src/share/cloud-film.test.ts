/**
 * Cloud film through HTTP (issue 7): staff create, list, revoke links and get QR codes; the
 * patient unlocks with the code, reads the report, views images, downloads the study and
 * shares it onward; refusals are pages; a link reaches only its study; every access is in
 * share_accesses and the audit trail.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { createHash } from 'node:crypto';
import { cookieFrom, createFixture, generateCt, readZip, signReport, startShareServer, storeAs, type Fixture, type GeneratedStudy, type ShareTestServer } from './share-test-support.ts';
import { maskPhone } from './sms-sender.ts';

type Link = { id: string; url: string; accessCode?: string; status: string; views: number; hasAccessCode: boolean; kind: string; expiresAt: string };

let app: ShareTestServer;
let fixture: Fixture;
let ct: GeneratedStudy;
let other: GeneratedStudy;
let reportId: string;
const FINDINGS = '右肺上叶见一枚约8mm磨玻璃结节，边界清楚。';
const IMPRESSION = '右肺上叶磨玻璃结节，建议3个月后复查。';

const pathOf = (link: { url: string }) => new URL(link.url).pathname;
const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

async function createLink(body: Record<string, unknown> = {}, who = 'tech'): Promise<Link> {
  const answer = await fixture.client.call<Link>(who, 'POST', '/api/v1/share-links', { studyInstanceUid: ct.studyInstanceUid, ...body });
  assert.equal(answer.status, 201, answer.text);
  return answer.body;
}

async function unlock(link: Link, code = link.accessCode!): Promise<string> {
  const response = await fetch(`${app.baseUrl}${pathOf(link)}/unlock`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `code=${code}` });
  assert.equal(response.status, 303);
  return cookieFrom(response.headers.get('set-cookie'));
}

function assertFilmHeaders(headers: Headers, what: string): void {
  assert.match(headers.get('cache-control') ?? '', /no-store/, `${what}: Cache-Control`);
  assert.equal(headers.get('referrer-policy'), 'no-referrer', `${what}: Referrer-Policy`);
  assert.match(headers.get('x-robots-tag') ?? '', /noindex/, `${what}: X-Robots-Tag`);
  assert.equal(headers.get('x-content-type-options'), 'nosniff', `${what}: nosniff`);
  const csp = headers.get('content-security-policy') ?? '';
  assert.match(csp, /default-src 'none'/, `${what}: CSP`);
  assert.doesNotMatch(csp, /https?:|unsafe-inline|unsafe-eval|\*/, `${what}: CSP allows nothing third-party`);
}

before(async () => {
  app = await startShareServer();
  fixture = await createFixture(app.baseUrl);
  [ct, other] = await Promise.all([generateCt(6), generateCt(2)]);
  await storeAs(app.server, fixture.client.tokens.tech!, ct.files.values());
  await storeAs(app.server, fixture.client.tokens.tech!, other.files.values());
  reportId = await signReport(fixture, ct.studyInstanceUid, { findings: FINDINGS, impression: IMPRESSION });
});

after(async () => {
  await app?.close();
});

describe('staff', () => {
  test('the study’s institution creates, lists and revokes links; others cannot', async () => {
    const { client } = fixture;
    const link = await createLink({ expiresInDays: 10, codeLength: 4 });
    assert.match(pathOf(link), /^\/s\/[A-Za-z0-9_-]{32}$/, 'token of 192 bits in the short link');
    assert.match(link.accessCode!, /^[0-9]{4}$/);
    assert.equal(link.hasAccessCode, true);
    assert.ok(Math.abs(Date.parse(link.expiresAt) - Date.now() - 10 * 86_400_000) < 60_000);
    // a diagnostic centre that sees the study is not its institution
    assert.equal((await client.call('rad', 'POST', '/api/v1/share-links', { studyInstanceUid: ct.studyInstanceUid })).status, 403);
    // another township does not even see it: like a study that does not exist
    const hidden = await client.call('tech2', 'POST', '/api/v1/share-links', { studyInstanceUid: ct.studyInstanceUid });
    const absent = await client.call('tech2', 'POST', '/api/v1/share-links', { studyInstanceUid: '1.2.3.4.5.6.7' });
    assert.equal(hidden.status, 404);
    assert.deepEqual(hidden.body, { ...(absent.body as object), message: (hidden.body as { message: string }).message });
    assert.equal((await client.call('auditor', 'POST', '/api/v1/share-links', { studyInstanceUid: ct.studyInstanceUid })).status, 403);
    assert.equal((await client.call(undefined, 'POST', '/api/v1/share-links', { studyInstanceUid: ct.studyInstanceUid })).status, 401);
    // administrators may
    assert.equal((await client.call('admin', 'POST', '/api/v1/share-links', { studyInstanceUid: ct.studyInstanceUid, accessCode: false })).status, 201);

    const list = await client.call<Link[]>('tech', 'GET', `/api/v1/share-links?studyInstanceUid=${ct.studyInstanceUid}`);
    assert.equal(list.status, 200);
    assert.ok(list.body.some((l) => l.id === link.id && l.accessCode === undefined), 'the list never shows a code');
    assert.equal((await client.call('tech2', 'GET', `/api/v1/share-links/${link.id}`)).status, 404);

    const png = await client.call('tech', 'GET', `/api/v1/share-links/${link.id}/qr.png`);
    assert.equal(png.headers.get('content-type'), 'image/png');
    assert.equal((await sharp(png.raw).metadata()).format, 'png');
    const svg = await client.call('tech', 'GET', `/api/v1/share-links/${link.id}/qr.svg`);
    assert.match(svg.headers.get('content-type') ?? '', /image\/svg\+xml/);
    assert.match(svg.text, /^<svg[^>]*>/);

    const revoked = await client.call<Link>('tech', 'POST', `/api/v1/share-links/${link.id}/revoke`);
    assert.equal(revoked.status, 200);
    assert.equal(revoked.body.status, 'revoked');
    assert.equal((await client.call(undefined, 'GET', pathOf(link))).status, 410);
  });

  test('a new access code replaces the old one and ends unlocked sessions; SMS logs only a masked number', async () => {
    const link = await createLink({ phone: '13812345678' });
    const cookie = await unlock(link);
    assert.equal((await fixture.client.call(undefined, 'GET', `${pathOf(link)}/data.json`, undefined, { cookie })).status, 200);
    const reissued = await fixture.client.call<Link>('tech', 'POST', `/api/v1/share-links/${link.id}/access-code`, { codeLength: 5 });
    assert.equal(reissued.status, 200);
    assert.match(reissued.body.accessCode!, /^[0-9]{5}$/);
    assert.equal((await fixture.client.call(undefined, 'GET', `${pathOf(link)}/data.json`, undefined, { cookie })).status, 401, 'the old session ended');
    await unlock(link, reissued.body.accessCode);
    assert.deepEqual(app.sms.sent.at(-1), { maskedPhone: maskPhone('13812345678'), length: app.sms.sent.at(-1)!.length });
    assert.equal(maskPhone('13812345678'), '138****5678');
  });

  test('ensurePatientLink: one link per signed report, the same on every print, no code needed', async () => {    const first = await app.shares.links.ensurePatientLink(ct.studyInstanceUid, reportId, fixture.township);
    const again = await app.shares.links.ensurePatientLink(ct.studyInstanceUid, reportId, fixture.township);
    assert.ok(first && again);
    assert.equal(first.id, again.id);
    assert.equal(first.hasAccessCode, false);
    const page = await fixture.client.call(undefined, 'GET', pathOf(first));
    assert.equal(page.status, 200);
    assert.ok(page.text.includes('右肺上叶见一枚约8mm磨玻璃结节'), 'the report text is on the page');
  });
});

describe('patient', () => {
  test('the code unlocks the page; without it every resource answers 401; headers on everything', async () => {
    const link = await createLink();
    const locked = await fixture.client.call(undefined, 'GET', pathOf(link));
    assert.equal(locked.status, 200);
    assert.match(locked.text, /data-state="locked"/);
    assert.ok(!locked.text.includes(FINDINGS), 'nothing of the report before the code');
    assertFilmHeaders(locked.headers, 'unlock page');
    const sop = [...ct.files.keys()][0]!;
    const data = await fixture.client.call(undefined, 'GET', `${pathOf(link)}/data.json`);
    assert.equal(data.status, 401);
    const image = await fixture.client.call(undefined, 'GET', `${pathOf(link)}/images/${ct.seriesInstanceUid}/${sop}.jpg`, undefined, { accept: 'text/html' });
    assert.equal(image.status, 401);
    assert.match(image.headers.get('content-type') ?? '', /text\/html/);
    assertFilmHeaders(image.headers, '401 page');
    // a forged cookie
    const forged = await fixture.client.call(undefined, 'GET', `${pathOf(link)}/data.json`, undefined, { cookie: `yy_film=${Date.now() + 600000}.${'A'.repeat(43)}` });
    assert.equal(forged.status, 401);
    const zip = await fixture.client.call(undefined, 'GET', `${pathOf(link)}/download/dicom.zip`, undefined, { accept: 'text/html' });
    assert.equal(zip.status, 401);
    assert.match(zip.text, /访问码/);

    const wrong = await fetch(`${app.baseUrl}${pathOf(link)}/unlock`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `code=${link.accessCode === '000000' ? '111111' : '000000'}` });
    assert.equal(wrong.status, 401);
    assert.match(await wrong.text(), /访问码不正确/);

    const response = await fetch(`${app.baseUrl}${pathOf(link)}/unlock`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `code=${link.accessCode}` });
    assert.equal(response.status, 303);
    assert.equal(response.headers.get('location'), pathOf(link));
    const setCookie = response.headers.get('set-cookie') ?? '';
    assert.match(setCookie, /HttpOnly/);
    assert.match(setCookie, /SameSite=Strict/);
    assert.match(setCookie, new RegExp(`Path=${pathOf(link)}(;|$)`));
    assert.match(setCookie, /Max-Age=\d+/);
    assert.doesNotMatch(setCookie, /Secure/, 'plain http here; Secure behind https');
    const cookie = cookieFrom(setCookie);

    const page = await fixture.client.call(undefined, 'GET', pathOf(link), undefined, { cookie });
    assert.equal(page.status, 200);
    assertFilmHeaders(page.headers, 'film page');
    for (const text of [FINDINGS, IMPRESSION, '周市镇卫生院', '昆山市第一人民医院']) assert.ok(page.text.includes(text), `page shows ${text}`);
    assert.doesNotMatch(page.text, /<script src=|<link [^>]*stylesheet|https?:\/\/(?!127\.0\.0\.1)/, 'no external resources');

    const json = await fixture.client.call<{ series: Array<{ uid: string; images: Array<[string, number]> }>; report: { findings: string } }>(undefined, 'GET', `${pathOf(link)}/data.json`, undefined, { cookie });
    assert.equal(json.status, 200);
    assert.equal(json.body.report.findings, FINDINGS);
    const ctSeries = json.body.series.find((s) => s.uid === ct.seriesInstanceUid)!;
    assert.equal(ctSeries.images.length, ct.files.size);

    const small = await fixture.client.call(undefined, 'GET', `${pathOf(link)}/images/${ct.seriesInstanceUid}/${sop}.jpg?fidelity=small`, undefined, { cookie });
    assert.equal(small.status, 200);
    assert.equal(small.headers.get('content-type'), 'image/jpeg');
    assertFilmHeaders(small.headers, 'image');
    const smallMeta = await sharp(small.raw).metadata();
    assert.ok(smallMeta.width! <= 512 && smallMeta.height! <= 512);
    const full = await fixture.client.call(undefined, 'GET', `${pathOf(link)}/images/${ct.seriesInstanceUid}/${sop}.jpg?fidelity=full`, undefined, { cookie });
    assert.equal(full.status, 200);
    assert.equal((await sharp(full.raw).metadata()).width, 512);
    assert.ok(full.raw.length > small.raw.length, 'full fidelity is the larger JPEG');
    const lung = await fixture.client.call(undefined, 'GET', `${pathOf(link)}/images/${ct.seriesInstanceUid}/${sop}.jpg?window=-600,1500`, undefined, { cookie });
    assert.equal(lung.status, 200);
    assert.notEqual(sha(lung.raw), sha(small.raw), 'a window preset re-renders');
    const thumb = await fixture.client.call(undefined, 'GET', `${pathOf(link)}/series/${ct.seriesInstanceUid}/thumbnail.jpg`, undefined, { cookie });
    assert.equal(thumb.status, 200);
    assert.ok((await sharp(thumb.raw).metadata()).width! <= 128);
    const unknown = await fixture.client.call(undefined, 'GET', `${pathOf(link)}/nothing/here`, undefined, { accept: 'text/html' });
    assert.equal(unknown.status, 404);
    assertFilmHeaders(unknown.headers, '404 page');
  });

  test('times on the page are the configured zone’s (Asia/Shanghai), named on the page; DICOM study time as recorded; data.json keeps ISO', async () => {
    const link = await createLink({ accessCode: false });
    const { db } = app.server.archive.database;
    // 16:30 UTC on 30 June is 00:30 on 1 July in Shanghai; 17:05 UTC on 2 December is 01:05 on the 3rd
    await db.updateTable('share_links').set({ expires_at: '2027-06-30T16:30:00.000Z' }).where('id', '=', link.id).execute();
    const signed = await db.selectFrom('reports').select('signed_at').where('id', '=', reportId).executeTakeFirstOrThrow();
    const study = await db.selectFrom('studies').select('study_time').where('study_instance_uid', '=', ct.studyInstanceUid).executeTakeFirstOrThrow();
    await db.updateTable('reports').set({ signed_at: '2026-12-02T17:05:00.000Z' }).where('id', '=', reportId).execute();
    // StudyTime is the modality's wall clock already: shown as it is, never shifted
    await db.updateTable('studies').set({ study_time: '233015.123' }).where('study_instance_uid', '=', ct.studyInstanceUid).execute();
    try {
      const page = await fixture.client.call(undefined, 'GET', pathOf(link));
      assert.equal(page.status, 200);
      assert.match(page.text, /<span id="signed-at">2026-12-03 01:05<\/span>/);
      assert.match(page.text, /<span id="expires-at">2027-07-01 00:30<\/span> \(<span id="time-zone">Asia\/Shanghai<\/span>\)/);
      assert.match(page.text, /<span id="exam-time">23:30<\/span>/);
      const data = await fixture.client.call<{ timeZone: string; link: { expiresAt: string }; report: { signedAt: string } }>(undefined, 'GET', `${pathOf(link)}/data.json`);
      assert.equal(data.body.timeZone, 'Asia/Shanghai');
      assert.equal(data.body.link.expiresAt, '2027-06-30T16:30:00.000Z');
      assert.equal(data.body.report.signedAt, '2026-12-02T17:05:00.000Z');
    } finally {
      await db.updateTable('reports').set({ signed_at: signed.signed_at }).where('id', '=', reportId).execute();
      await db.updateTable('studies').set({ study_time: study.study_time }).where('study_instance_uid', '=', ct.studyInstanceUid).execute();
    }
  });

  test('a link exposes only its own study', async () => {
    const link = await createLink({ accessCode: false });
    const base = pathOf(link);
    const [otherSop] = [...other.files.keys()];
    const [ownSop] = [...ct.files.keys()];
    const attempts = [
      `${base}/images/${other.seriesInstanceUid}/${otherSop}.jpg`, // another study’s image
      `${base}/images/${ct.seriesInstanceUid}/${otherSop}.jpg`, // another study’s image under this series
      `${base}/images/${other.seriesInstanceUid}/${ownSop}.jpg`, // own image under another series
      `${base}/images/1.2.3/${ownSop}.jpg`,
      `${base}/images/${ct.seriesInstanceUid}/1.2.3.4.jpg`,
      `${base}/images/${ct.seriesInstanceUid}/${ownSop}.jpg?frame=2`,
      `${base}/images/${ct.seriesInstanceUid}/..%2F..%2F${ownSop}.jpg`,
      `${base}/series/${other.seriesInstanceUid}/thumbnail.jpg`,
      `${base}/images/${ct.seriesInstanceUid}/${ownSop}`,
    ];
    for (const url of attempts) {
      const answer = await fixture.client.call(undefined, 'GET', url);
      assert.equal(answer.status, 404, url);
      assert.notEqual(answer.headers.get('content-type'), 'image/jpeg', url);
    }
    assert.equal((await fixture.client.call(undefined, 'GET', `${base}/images/${ct.seriesInstanceUid}/${ownSop}.jpg`)).status, 200);
    const data = await fixture.client.call<{ series: Array<{ uid: string }> }>(undefined, 'GET', `${base}/data.json`);
    assert.deepEqual(data.body.series.map((s) => s.uid).filter((uid) => uid === other.seriesInstanceUid), []);
  });

  test('the DICOM zip holds exactly the study’s instances, byte for byte; the JPEG zip one image per slice', async () => {
    const link = await createLink();
    const cookie = await unlock(link);
    const response = await fixture.client.call(undefined, 'GET', `${pathOf(link)}/download/dicom.zip`, undefined, { cookie });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'application/zip');
    assert.match(response.headers.get('content-disposition') ?? '', /attachment/);
    assertFilmHeaders(response.headers, 'zip');
    const entries = readZip(response.raw);
    const stored = await app.server.archive.index.findInstances({ studyInstanceUids: [ct.studyInstanceUid], scope: {} });
    assert.equal(entries.size, stored.length, 'one file per stored instance (images and the report SR)');
    const expected = new Set(await Promise.all(stored.map(async (row) => sha(await app.server.archive.blobs.get(row.blob_key)))));
    assert.deepEqual(new Set([...entries.values()].map(sha)), expected);
    for (const bytes of ct.files.values()) assert.ok(expected.has(sha(bytes)), 'every CT slice as it was sent');
    assert.ok([...entries.keys()].every((name) => /^DICOM\/series-[0-9A-Za-z-]+\/\d{5}\.dcm$/.test(name)), 'no patient data in file names');

    const jpegs = await fixture.client.call(undefined, 'GET', `${pathOf(link)}/download/jpeg.zip`, undefined, { cookie });
    assert.equal(jpegs.status, 200);
    const images = readZip(jpegs.raw);
    assert.equal(images.size, ct.files.size);
    for (const bytes of images.values()) assert.equal((await sharp(bytes).metadata()).format, 'jpeg');
  });

  test('expired and revoked links show a 410 page, also for images and downloads', async () => {
    const expired = await createLink();
    const cookie = await unlock(expired);
    await app.server.archive.database.db.updateTable('share_links').set({ expires_at: new Date(Date.now() - 1000).toISOString() }).where('id', '=', expired.id).execute();
    const page = await fixture.client.call(undefined, 'GET', pathOf(expired), undefined, { cookie, accept: 'text/html' });
    assert.equal(page.status, 410);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    assert.match(page.text, /链接已过期/);
    assert.match(page.text, /This link has expired/);
    assertFilmHeaders(page.headers, '410 page');
    const sop = [...ct.files.keys()][1]!;
    assert.equal((await fixture.client.call(undefined, 'GET', `${pathOf(expired)}/images/${ct.seriesInstanceUid}/${sop}.jpg`, undefined, { cookie })).status, 410);
    assert.equal((await fixture.client.call(undefined, 'GET', `${pathOf(expired)}/download/dicom.zip`, undefined, { cookie })).status, 410);

    const revoked = await createLink({ accessCode: false });
    assert.equal((await fixture.client.call(undefined, 'GET', pathOf(revoked))).status, 200);
    await fixture.client.call('tech', 'POST', `/api/v1/share-links/${revoked.id}/revoke`);
    const gone = await fixture.client.call(undefined, 'GET', pathOf(revoked));
    assert.equal(gone.status, 410);
    assert.match(gone.text, /链接已停用/);
    const unknown = await fixture.client.call(undefined, 'GET', '/s/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
    assert.equal(unknown.status, 404);
    assert.match(unknown.text, /链接无效/);
  });

  test('onward sharing: a time-limited link for a doctor, listed with who opened what; it dies with the patient’s link', async () => {
    const link = await createLink();
    const cookie = await unlock(link);
    const onward = await fixture.client.call<Link & { recipient: string; qrSvg: string }>(undefined, 'POST', `${pathOf(link)}/onward`, { recipient: '上海瑞金医院 王医生', days: 3 }, { cookie });
    assert.equal(onward.status, 201, onward.text);
    assert.equal(onward.body.kind, 'onward');
    assert.match(onward.body.accessCode!, /^[0-9]{6}$/);
    assert.match(onward.body.qrSvg, /^<svg/);
    assert.ok(Date.parse(onward.body.expiresAt) <= Date.now() + 3 * 86_400_000 + 1000);
    assert.equal((await fixture.client.call(undefined, 'POST', `${pathOf(link)}/onward`, { recipient: 'x', days: 30 }, { cookie })).status, 400, 'no longer than the onward limit');
    assert.equal((await fixture.client.call(undefined, 'POST', `${pathOf(link)}/onward`, { recipient: 'x' })).status, 401, 'needs the patient’s session');

    const doctorCookie = await unlock(onward.body);
    const doctorPage = await fixture.client.call(undefined, 'GET', pathOf(onward.body), undefined, { cookie: doctorCookie });
    assert.equal(doctorPage.status, 200);
    assert.ok(doctorPage.text.includes(IMPRESSION));
    assert.equal((await fixture.client.call(undefined, 'POST', `${pathOf(onward.body)}/onward`, { recipient: 'y' }, { cookie: doctorCookie })).status, 403, 'a doctor cannot pass it further');
    assert.equal((await fixture.client.call(undefined, 'GET', `${pathOf(onward.body)}/download/dicom.zip`, undefined, { cookie: doctorCookie })).status, 200);

    const list = await fixture.client.call<{ onward: Array<{ id: string; recipient: string }>; accesses: Array<{ action: string; who: string | null }> }>(undefined, 'GET', `${pathOf(link)}/accesses`, undefined, { cookie });
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.onward.map((o) => o.recipient), ['上海瑞金医院 王医生']);
    const byDoctor = list.body.accesses.filter((a) => a.who === '上海瑞金医院 王医生').map((a) => a.action);
    assert.ok(byDoctor.includes('opened') && byDoctor.includes('downloaded-dicom'), JSON.stringify(byDoctor));
    assert.ok(list.body.accesses.some((a) => a.who === null && a.action === 'unlocked'));

    await fixture.client.call('tech', 'POST', `/api/v1/share-links/${link.id}/revoke`);
    assert.equal((await fixture.client.call(undefined, 'GET', pathOf(onward.body), undefined, { cookie: doctorCookie })).status, 410, 'revoking the patient’s link ends the onward link');
  });

  test('every open, view and download is in share_accesses and the audit trail, with the Patient ID and never a name', async () => {
    const link = await createLink();
    const cookie = await unlock(link);
    await fixture.client.call(undefined, 'GET', pathOf(link), undefined, { cookie });
    const sop = [...ct.files.keys()][2]!;
    await fixture.client.call(undefined, 'GET', `${pathOf(link)}/images/${ct.seriesInstanceUid}/${sop}.jpg`, undefined, { cookie });
    await fixture.client.call(undefined, 'GET', `${pathOf(link)}/images/${ct.seriesInstanceUid}/${sop}.jpg?fidelity=full`, undefined, { cookie });
    await fixture.client.call(undefined, 'GET', `${pathOf(link)}/download/dicom.zip`, undefined, { cookie });
    await fixture.client.call(undefined, 'GET', `${pathOf(link)}/images/${ct.seriesInstanceUid}/${sop}.jpg?download=1`, undefined, { cookie });

    const accesses = await fixture.client.call<Array<{ action: string }>>('tech', 'GET', `/api/v1/share-links/${link.id}/accesses`);
    assert.deepEqual(accesses.body.map((a) => a.action).reverse(), ['unlocked', 'opened', 'viewed-images', 'viewed-full', 'downloaded-dicom', 'downloaded-jpeg']);
    const view = await fixture.client.call<Link>('tech', 'GET', `/api/v1/share-links/${link.id}`);
    assert.equal(view.body.views, 1);

    const trail = await fixture.client.call<Array<{ action: string; actor_name: string; patient_id: string | null; via: string; details: string; remote_address: string | null }>>('admin', 'GET', `/api/v1/audit-events?objectId=${link.id}&limit=100`);
    assert.equal(trail.status, 200);
    const actions = trail.body.map((r) => r.action);
    for (const action of ['study.shared', 'share.unlocked', 'share.opened', 'share.viewed', 'share.downloaded']) assert.ok(actions.includes(action), `${action} in ${actions.join(',')}`);
    const opened = trail.body.find((r) => r.action === 'share.opened')!;
    assert.equal(opened.actor_name, `share:${link.id}`);
    assert.equal(opened.via, 'rest');
    assert.equal(opened.remote_address, '127.0.0.1');
    assert.ok(opened.patient_id, 'the Patient ID is recorded');
    const study = await app.server.archive.index.studyRow(ct.studyInstanceUid);
    const names = (study?.patient_name ?? '').split(/[=^]/).filter((part) => part.length > 1);
    for (const row of trail.body) for (const name of names) assert.ok(!JSON.stringify(row).includes(name), 'no patient name in the trail');
  });
});

describe('throttling', () => {
  let throttled: ShareTestServer;
  let f: Fixture;
  let study: GeneratedStudy;
  before(async () => {
    throttled = await startShareServer();
    f = await createFixture(throttled.baseUrl);
    study = await generateCt(1);
    await storeAs(throttled.server, f.client.tokens.tech!, study.files.values());
  });
  after(async () => {
    await throttled?.close();
  });
  const make = async () => (await f.client.call<Link>('tech', 'POST', '/api/v1/share-links', { studyInstanceUid: study.studyInstanceUid })).body;
  const attempt = (link: Link, code: string, address?: string) =>
    fetch(`${throttled.baseUrl}${pathOf(link)}/unlock`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', ...(address ? { 'x-forwarded-for': address } : {}) }, body: `code=${code}` });
  const wrongCode = (link: Link) => (link.accessCode === '000000' ? '999999' : '000000');

  test('five wrong codes lock the link for everyone, even against the right code; 429 page with the wait', async () => {
    const link = await make();
    for (let i = 0; i < 4; i++) assert.equal((await attempt(link, wrongCode(link))).status, 401);
    const fifth = await attempt(link, wrongCode(link));
    assert.equal(fifth.status, 429, 'the failure that reaches the limit already says so');
    const right = await attempt(link, link.accessCode!);
    assert.equal(right.status, 429);
    const retryAfter = Number(right.headers.get('retry-after'));
    assert.ok(retryAfter > 800 && retryAfter <= 900, `Retry-After ${retryAfter}`);
    const page = await right.text();
    assert.match(page, /尝试次数过多/);
    assert.match(page, /Too many attempts/);
    assertFilmHeaders(right.headers, '429 page');
    // staff issue a new code: the link opens again
    const fresh = await f.client.call<Link>('tech', 'POST', `/api/v1/share-links/${link.id}/access-code`);
    assert.equal(fresh.status, 200, fresh.text);
    assert.equal((await attempt(link, fresh.body.accessCode!)).status, 303);
  });

  test('twenty wrong codes from one client throttle it across links', async () => {
    // 5 failures above already count for this client (127.0.0.1); 15 more over several links, none reaching its own limit
    const links = await Promise.all([make(), make(), make(), make()]);
    let failures = 5;
    for (const link of links) {
      for (let i = 0; i < 4 && failures < 20; i++, failures++) {
        const answer = await attempt(link, wrongCode(link));
        assert.equal(answer.status, failures === 19 ? 429 : 401, `failure ${failures + 1}`);
      }
    }
    const untouched = await make();
    const answer = await attempt(untouched, untouched.accessCode!);
    assert.equal(answer.status, 429, 'a fresh link from the same client waits too');
    assert.ok(Number(answer.headers.get('retry-after')) > 0);
  });
});

describe('several server processes', () => {
  test('a link revoked on one server stops working at once on another on the same database', async () => {
    const link = await createLink();
    const cookie = await unlock(link);
    const second = await startShareServer({ dataDir: app.dataDir });
    try {
      const before = await fetch(`${second.baseUrl}${pathOf(link)}`, { headers: { cookie } });
      assert.equal(before.status, 200, 'the cookie from the first server works on the second');
      const sop = [...ct.files.keys()][0]!;
      assert.equal((await fetch(`${second.baseUrl}${pathOf(link)}/images/${ct.seriesInstanceUid}/${sop}.jpg`, { headers: { cookie } })).status, 200);
      await fixture.client.call('tech', 'POST', `/api/v1/share-links/${link.id}/revoke`);
      assert.equal((await fetch(`${second.baseUrl}${pathOf(link)}`, { headers: { cookie } })).status, 410);
      assert.equal((await fetch(`${second.baseUrl}${pathOf(link)}/images/${ct.seriesInstanceUid}/${sop}.jpg`, { headers: { cookie } })).status, 410);
    } finally {
      await second.close({ keepData: true });
    }
  });
});
