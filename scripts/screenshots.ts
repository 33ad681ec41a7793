/**
 * The README's screenshots, re-runnable: starts the platform in this process (SQLite + files)
 * with realistic data — a city commission, a county hospital reading for three township
 * health centres, their staff, a township CT AE and a routing rule, studies from
 * ../shared/bench/gen.js (CT and DR of today, small studies over six months, patients named
 * in hanzi)
 * stored by the townships' technologists, and reading requests in every state (pending at
 * each priority, claimed, submitted, signed) — then takes each screen in headless Chromium
 * at 1920×1080 in 简体中文 and writes docs/screenshots/<name>.png:
 *
 *   login, worklist, reading (viewer and report editor), review, township,
 *   township-report, statistics, audit, admin-institutions, admin-users,
 *   tablet-reading (the reading page at 1366×768).
 *
 *   cd packages/web && npx vite build --outDir /tmp/web-dist && cd ../..
 *   node scripts/screenshots.ts [--web-dist packages/web/dist] [--out docs/screenshots] [--only reading,review]
 *
 * Not a test: it fails loudly when a screen does not come up, but checks nothing else.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { bodyPartName, setTopLevelTextElements } from '@yunying/dicom';
import { startListeningServer } from '../packages/server/src/test-support/listening-server.ts';
import { TEST_ADMIN_PASSWORD } from '../packages/server/src/test-support/admin-auth.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const { values: options } = parseArgs({
  options: {
    'web-dist': { type: 'string', default: path.join(ROOT, 'packages/web/dist') },
    out: { type: 'string', default: path.join(ROOT, 'docs/screenshots') },
    only: { type: 'string' },
  },
});
const webDist = path.resolve(options['web-dist']!);
const outDir = path.resolve(options.out!);
const only = options.only ? new Set(options.only.split(',')) : undefined;
if (!existsSync(path.join(webDist, 'index.html'))) throw new Error(`no index.html in ${webDist}: build the web app first`);

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const GEN = path.join(ROOT, '../shared/bench/gen.js');
const PASSWORD = 'Screens-2026-Yy';
const DESKTOP = { width: 1920, height: 1080 };
const TABLET = { width: 1366, height: 768 };
const TIMEOUT = 60_000;

/** what the radiologist types on the reading screen, by the CT's body part */
const READING: Record<string, { findings: string; impression: string }> = {
  HEAD: { findings: '右侧基底节区见小片状低密度影，边界欠清，大小约8mm×6mm。脑室系统未见扩大，脑沟脑裂未见增宽，中线结构居中。', impression: '右侧基底节区腔隙性脑梗死可能，建议MRI进一步检查。' },
  CHEST: { findings: '右肺下叶见斑片状高密度影，边界模糊，其内可见支气管充气征。余肺野清晰，纵隔居中，未见肿大淋巴结，双侧胸腔未见积液。', impression: '右肺下叶肺炎，建议抗炎治疗后复查。' },
  ABDOMEN: { findings: '肝脏形态大小正常，实质密度均匀。胆囊不大，壁不厚。胰腺、脾脏及双肾未见明确异常。腹腔未见积液。', impression: '腹部CT平扫未见明显异常。' },
};

/** a report that fits the study: the texts above, else a normal finding of the body part */
const reportFor = (bodyPart: string): { findings: string; impression: string } => {
  const known = READING[bodyPart];
  if (known) return known;
  const name = bodyPartName(bodyPart, 'zh') || '所摄部位';
  return { findings: `${name}诸骨骨质结构完整，未见明确骨折及骨质破坏征象，关节间隙正常，周围软组织未见肿胀。`, impression: `${name}未见明显异常。` };
};

interface GeneratedStudy {
  studyUid: string;
  bodyPart: string;
  modality: string;
  instances: Array<{ file: string }>;
}

/** the deployment's zone (the server's default), which the browser below is in too */
const ZONE = 'Asia/Shanghai';
/** YYYYMMDD in ZONE, `monthsBack` months and `days` days before today */
const dicomDate = (monthsBack = 0, days = 0): string => {
  const date = new Date(Date.now() - days * 86_400_000);
  date.setUTCMonth(date.getUTCMonth() - monthsBack);
  return new Intl.DateTimeFormat('en-CA', { timeZone: ZONE, year: 'numeric', month: '2-digit', day: '2-digit' }).format(date).replaceAll('-', '');
};

const workDir = await mkdtemp(path.join(tmpdir(), 'yunying-screenshots-'));
const server = await startListeningServer({ YUNYING_WEB_DIST: webDist, YUNYING_STUDY_STABLE_SECONDS: '1' });
let context: BrowserContext | undefined;
const written: string[] = [];
try {
  // ------------------------------------------------------------ people and places
  const tokens: Record<string, string> = {};
  const login = async (username: string, password = PASSWORD): Promise<string> => {
    const response = await fetch(`${server.baseUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
    if (response.status !== 200) throw new Error(`login ${username}: HTTP ${response.status}`);
    return (tokens[username] = ((await response.json()) as { token: string }).token);
  };
  const call = async <T = unknown>(who: string, method: string, url: string, body?: unknown): Promise<T> => {
    const response = await fetch(`${server.baseUrl}${url}`, { method, headers: { authorization: `Bearer ${tokens[who]}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await response.text();
    if (!response.ok) throw new Error(`${who} ${method} ${url}: HTTP ${response.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  };
  await login('admin', TEST_ADMIN_PASSWORD);
  for (const institution of [
    { id: 'sz-city', name: '苏州市卫生健康委员会', tier: 'city' },
    { id: 'ks-county', name: '昆山市第一人民医院', tier: 'county', grade: 3, parentId: 'sz-city' },
    { id: 'ks-t1', name: '周市镇卫生院', tier: 'township', grade: 1, parentId: 'ks-county' },
    { id: 'ks-t2', name: '陆家镇卫生院', tier: 'township', grade: 1, parentId: 'ks-county' },
    { id: 'ks-t3', name: '千灯镇卫生院', tier: 'township', grade: 1, parentId: 'ks-county' },
  ]) await call('admin', 'POST', '/api/v1/institutions', institution);
  for (const member of ['ks-t1', 'ks-t2', 'ks-t3']) await call('admin', 'PUT', `/api/v1/institutions/ks-county/members/${member}`);
  for (const [username, role, institutionId, displayName] of [
    ['tech1', 'technologist', 'ks-t1', '李技师'],
    ['tech2', 'technologist', 'ks-t2', '王技师'],
    ['tech3', 'technologist', 'ks-t3', '陈技师'],
    ['rad1', 'radiologist', 'ks-county', '赵医生'],
    ['rad2', 'radiologist', 'ks-county', '钱医生'],
    ['rev1', 'reviewing-radiologist', 'ks-county', '孙主任'],
    ['analyst', 'commission-analyst', 'sz-city', '卫健委统计'],
    ['auditor', 'insurance-auditor', 'sz-city', '医保稽核'],
  ] as const) {
    await call('admin', 'POST', '/api/v1/users', { username, password: PASSWORD, role, institutionId, displayName });
    await login(username);
  }
  await call('admin', 'PUT', '/api/v1/application-entities/T1_CT', { institutionId: 'ks-t1', description: '周市镇 CT' });
  await call('admin', 'PUT', '/api/v1/application-entities/T2_DR', { institutionId: 'ks-t2', description: '陆家镇 DR' });

  // ------------------------------------------------------------ studies
  const generate = (name: string, profile: string, studies: number, seed: number): { dir: string; studies: GeneratedStudy[] } => {
    const dir = path.join(workDir, name);
    execFileSync(process.execPath, [GEN, '--studies', String(studies), '--patients', String(studies), '--profile', profile, '--ct-slices', '60', '--out', dir, '--seed', String(seed), '--tag', `${name}${randomBytes(2).toString('hex')}`.slice(0, 8)], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, NODE_PATH: path.join(ROOT, 'node_modules') },
    });
    return { dir, studies: (JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { studies: GeneratedStudy[] }).studies };
  };
  const store = async (who: string, dir: string, study: GeneratedStudy, studyDate: string): Promise<void> => {
    for (let i = 0; i < study.instances.length; i += 20) {
      const boundary = `screens-${randomBytes(6).toString('hex')}`;
      const chunks: Buffer[] = [];
      for (const { file } of study.instances.slice(i, i + 20)) {
        const bytes = setTopLevelTextElements(await readFile(path.join(dir, file)), [{ tag: 0x00080020, vr: 'DA', value: studyDate }]);
        chunks.push(Buffer.from(`\r\n--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), bytes);
      }
      chunks.push(Buffer.from(`\r\n--${boundary}--\r\n`));
      const response = await fetch(`${server.baseUrl}/dicom-web/studies`, { method: 'POST', headers: { authorization: `Bearer ${tokens[who]}`, 'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}` }, body: Buffer.concat(chunks) });
      if (response.status !== 200) throw new Error(`STOW-RS: HTTP ${response.status} ${await response.text()}`);
    }
  };
  const ct = generate('ct', 'ct', 3, 11);
  const dr = generate('dr', 'dr', 2, 12);
  const small = generate('sm', 'tiny', 24, 13);
  // today's CT and DR at the townships, and small studies over the last six months (the statistics' months)
  const placed: Array<{ tech: string; dir: string; study: GeneratedStudy; date: string }> = [
    ...ct.studies.map((study) => ({ tech: 'tech1', dir: ct.dir, study, date: dicomDate() })),
    ...dr.studies.map((study) => ({ tech: 'tech2', dir: dr.dir, study, date: dicomDate() })),
    ...small.studies.map((study, i) => ({ tech: ['tech1', 'tech2', 'tech3', 'tech1'][i % 4]!, dir: small.dir, study, date: i < 6 ? dicomDate(0, 1 + (i % 3)) : dicomDate(i % 6, i % 20) })),
  ];
  for (const { tech, dir, study, date } of placed) await store(tech, dir, study, date);
  console.log(`stored ${placed.length} studies (${placed.reduce((n, p) => n + p.study.instances.length, 0)} instances)`);

  // ------------------------------------------------------------ reading requests in every state
  const HISTORY: Record<string, string> = { HEAD: '突发头痛3小时，伴呕吐', CHEST: '咳嗽、咳痰两周，发热3天', KNEE: '外伤后右膝疼痛，活动受限', LSPINE: '腰痛半年，加重1周', ABDOMEN: '上腹痛2天', HAND: '摔伤后左手肿痛', PELVIS: '髋部疼痛1月', THYROID: '体检发现甲状腺结节', HEART: '胸闷气短1月' };
  const PRIORITY = ['emergency', 'urgent', 'routine', 'routine', 'urgent', 'routine', 'emergency', 'routine', 'routine', 'urgent', 'routine'] as const;
  const requests: string[] = [];
  for (const [i, { tech, study }] of placed.slice(0, 11).entries()) {
    const created = await call<{ id: string }>(tech, 'POST', '/api/v1/reading-requests', { studyInstanceUid: study.studyUid, priority: PRIORITY[i % PRIORITY.length], clinicalHistory: HISTORY[study.bodyPart] ?? '体检', bodyParts: study.bodyPart ? [study.bodyPart] : [], imagesComplete: true });
    requests.push(created.id);
  }
  // placed: 0–2 CT at 周市镇 (0 pending emergency: read on screen; 1 submitted: reviewed on screen; 2 signed: the township's report),
  // 3–4 DR at 陆家镇 (3 signed, 4 pending), 5–10 small studies (5 signed, 6 claimed by 钱医生, 7 submitted, the rest pending)
  const submit = async (index: number, who = 'rad1'): Promise<string> => {
    const text = reportFor(placed[index]!.study.bodyPart);
    await call(who, 'POST', `/api/v1/reading-requests/${requests[index]}/claim`);
    const report = await call<{ id: string }>(who, 'PUT', `/api/v1/reading-requests/${requests[index]}/report`, { ...text, positive: !text.impression.includes('未见明显异常') });
    await call(who, 'POST', `/api/v1/reports/${report.id}/submit`);
    return report.id;
  };
  // a password confirms the signature where the e-signature asks for one; ignored otherwise
  const sign = async (index: number, who = 'rad1'): Promise<unknown> => call('rev1', 'POST', `/api/v1/reports/${await submit(index, who)}/sign`, { password: PASSWORD });
  await submit(1);
  await sign(2);
  await sign(3, 'rad2');
  await sign(5, 'rad2');
  await call('rad2', 'POST', `/api/v1/reading-requests/${requests[6]}/claim`);
  await submit(7, 'rad2');
  // a routing rule for the administration screen (made after the requests above, which the township asked for itself)
  await call('admin', 'POST', '/api/v1/routing-rules', { name: '陆家镇 DR → 县医院', sourceInstitutionId: 'ks-t2', modality: 'DX', readingInstitutionId: 'ks-county' });
  await server.feedHandled();

  // ------------------------------------------------------------ the screens
  await mkdir(outDir, { recursive: true });
  const profile = path.join(workDir, 'chromium');
  context = await chromium.launchPersistentContext(profile, { executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS, viewport: DESKTOP, locale: 'zh-CN', timezoneId: ZONE });
  await context.addInitScript(() => (globalThis as unknown as { localStorage: { setItem(k: string, v: string): void } }).localStorage.setItem('yunying.locale', 'zh-CN'));
  const browser = context;
  const wanted = (name: string) => !only || only.has(name);
  const shoot = async (page: Page, name: string): Promise<void> => {
    if (!wanted(name)) return;
    // toasts (已领取 …) gone, fonts in, animations settled
    await page.locator('.ant-message-notice').first().waitFor({ state: 'detached', timeout: 10_000 }).catch(() => undefined);
    await page.evaluate(() => (globalThis as unknown as { document: { fonts: { ready: Promise<unknown> } } }).document.fonts.ready);
    await page.waitForTimeout(400);
    const file = path.join(outDir, `${name}.png`);
    await writeFile(file, await page.screenshot({ type: 'png' }));
    written.push(file);
    console.log(`  ${path.relative(ROOT, file)}`);
  };
  /** A new tab (its own sessionStorage, so its own user) signed in through the login screen. */
  const signIn = async (username: string, password = PASSWORD, shot?: string): Promise<Page> => {
    const page = await browser.newPage();
    page.setDefaultTimeout(TIMEOUT);
    await page.setViewportSize(DESKTOP);
    await page.goto(`${server.baseUrl}/`);
    await page.getByTestId('login-username').fill(username);
    await page.getByTestId('login-password').fill(password);
    if (shot) await shoot(page, shot);
    await page.getByTestId('login-submit').click();
    await page.getByTestId('current-user').waitFor();
    return page;
  };
  const viewerShowing = (page: Page) => page.locator('[data-testid="study-viewer"][data-state="loaded"]').first().waitFor({ timeout: 120_000 });

  // the radiologist: login, worklist, claim the emergency CT, write the report
  const rad = await signIn('rad1', PASSWORD, 'login');
  await rad.getByTestId('worklist').waitFor();
  await rad.locator('[data-testid="worklist"] tr[data-request-id]').nth(5).waitFor();
  await rad.locator('[data-testid="live-indicator"][data-connected="true"]').waitFor();
  await shoot(rad, 'worklist');
  await rad.locator(`[data-testid="worklist"] tr[data-request-id="${requests[0]}"]`).getByTestId('claim').click();
  await rad.getByTestId('reading-page').waitFor();
  await viewerShowing(rad);
  const text = reportFor(placed[0]!.study.bodyPart);
  await rad.getByTestId('findings').fill(text.findings);
  await rad.getByTestId('impression').fill(text.impression);
  await rad.getByTestId('positive').getByText(text.impression.includes('未见明显异常') ? '阴性' : '阳性', { exact: true }).click();
  await rad.locator('[data-testid="save-state"][data-state="saved"]').waitFor();
  await shoot(rad, 'reading');
  // the same page at tablet size
  await rad.setViewportSize(TABLET);
  await rad.reload();
  await viewerShowing(rad);
  await shoot(rad, 'tablet-reading');
  await rad.close();

  // the reviewer opens the submitted CT
  if (wanted('review')) {
    const rev = await signIn('rev1');
    await rev.getByTestId('review-queue').waitFor();
    await rev.locator(`[data-testid="review-queue"] tr[data-request-id="${requests[1]}"]`).getByTestId('open').click();
    await rev.getByTestId('review-panel').waitFor();
    await viewerShowing(rev);
    await shoot(rev, 'review');
    await rev.close();
  }

  // the township: today's studies and requests, and a signed report
  const tech = await signIn('tech1');
  await tech.getByTestId('township-page').waitFor();
  await tech.locator('[data-testid="township-requests"] tr[data-request-id]').nth(2).waitFor();
  await shoot(tech, 'township');
  await tech.locator(`[data-testid="township-requests"] tr[data-request-id="${requests[2]}"]`).getByTestId('view-report').click();
  await tech.locator('[data-testid="report-status"][data-status="signed"]').waitFor();
  await shoot(tech, 'township-report');
  await tech.close();

  // the commission's statistics
  if (wanted('statistics')) {
    const analyst = await signIn('analyst');
    await analyst.locator('[data-testid="chart-modality"] canvas').waitFor();
    await analyst.waitForTimeout(1_000); // the charts' entry animation
    await shoot(analyst, 'statistics');
    await analyst.close();
  }

  // the insurance auditor's trail
  if (wanted('audit')) {
    const auditor = await signIn('auditor');
    await auditor.getByTestId('audit-page').waitFor();
    await auditor.locator('.ant-table-row').nth(5).waitFor();
    await shoot(auditor, 'audit');
    await auditor.close();
  }

  // administration
  if (wanted('admin-institutions') || wanted('admin-users')) {
    const admin = await signIn('admin', TEST_ADMIN_PASSWORD);
    await admin.getByTestId('institution-tree').getByText('周市镇卫生院').waitFor();
    await shoot(admin, 'admin-institutions');
    await admin.getByRole('tab', { name: '用户' }).click();
    await admin.getByText('李技师').first().waitFor();
    await shoot(admin, 'admin-users');
    await admin.close();
  }
  console.log(`${written.length} screenshots in ${path.relative(ROOT, outDir) || outDir}`);
} finally {
  await context?.close();
  await server.close();
  await rm(workDir, { recursive: true, force: true });
}
