/**
 * The patient's page, rendered on the server: plain HTML that shows the report, thumbnails
 * and downloads with no script at all, plus one small inline module for the touch viewer and
 * onward sharing. Script and style are TypeScript and CSS of the web app
 * (packages/web/src/cloud-film/), built by Vite into dist/cloud-film/ with the rest of it
 * (npm run build:web); they are inline and allowed by their SHA-256 in the
 * Content-Security-Policy, so the page is one request and loads nothing else but its own
 * images; there are no third-party resources.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_WEB_DIST } from '../web-app/static-routes.ts';
import { zonedMinutes } from '../zoned-time.ts';
import type { PatientPageData } from './share-model.ts';

/** The page's script and style from the web app's build, with the policy that allows exactly them. */
export interface FilmAssets {
  /** false without a build of the web app: the page then has neither script nor style */
  built: boolean;
  script: string;
  style: string;
  csp: string;
}

const hashOf = (text: string): string => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

const loaded = new Map<string, FilmAssets>();
/** the web app's build the page takes its script and style from: YUNYING_WEB_DIST, as the web app's own routes */
let webDist = DEFAULT_WEB_DIST;

/** The build the page's script and style come from (the share module sets config.webDistDir); the default build when absent. */
export function useFilmDist(distDir: string | undefined): void {
  webDist = distDir ?? DEFAULT_WEB_DIST;
}

/** Read once from the build (re-checked while there is none, so a build made after start is picked up). */
export function filmAssets(distDir = webDist): FilmAssets {
  const known = loaded.get(distDir);
  if (known?.built) return known;
  const scriptFile = path.join(distDir, 'cloud-film', 'cloud-film.js');
  const styleFile = path.join(distDir, 'cloud-film', 'cloud-film.css');
  const built = existsSync(scriptFile) && existsSync(styleFile);
  const script = built ? readFileSync(scriptFile, 'utf8') : '';
  const style = built ? readFileSync(styleFile, 'utf8') : '';
  // Inlined as is: text that would end or change its element cannot be (the build has none).
  if (/<\/script|<!--/i.test(script) || /<\/style/i.test(style)) throw new Error(`${scriptFile}: cannot be inlined into the cloud-film page`);
  const assets = { built, script, style, csp: pageCsp(built ? hashOf(script) : "'none'", built ? hashOf(style) : "'none'") };
  loaded.set(distDir, assets);
  return assets;
}

/** default-src 'none': only this page's own script and style (by hash), images and fetches to itself. */
function pageCsp(scriptSource: string, styleSource: string): string {
  return [
    "default-src 'none'",
    `script-src ${scriptSource}`,
    `style-src ${styleSource}`,
    "img-src 'self' data: blob:",
    "connect-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
}

/**
 * Every value the server writes into a page goes through this, in text and in (always
 * double-quoted) attributes alike: names, descriptions, report text and UIDs too, which an
 * archive filled before ingest checked them may hold with markup (issue 12, finding 6).
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** A value as one URL path segment, then escaped for the attribute it is written into. */
function segment(value: string): string {
  return escapeHtml(encodeURIComponent(value));
}

/**
 * JSON inside <script type="application/json">: '<' (so no `</script` or `<!--` ends or
 * changes the element), '>' and '&' as \u escapes, and U+2028/U+2029, which JSON allows raw
 * but older script parsers take for line ends. JSON.parse reads them all back unchanged.
 */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Both languages in the markup; CSS shows one (html.zh / html.en), the script toggles it. */
function t(zh: string, en: string): string {
  return `<span class="zh">${escapeHtml(zh)}</span><span class="en">${escapeHtml(en)}</span>`;
}

function layout(body: string, options: { title?: string; data?: unknown; preload?: string } = {}): string {
  const data = options.data === undefined ? '' : `<script type="application/json" id="film-data">${scriptJson(options.data)}</script>`;
  const assets = filmAssets();
  return `<!doctype html>
<html lang="zh-CN" class="zh"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1,viewport-fit=cover">
<meta name="referrer" content="no-referrer"><meta name="robots" content="noindex,nofollow">
<title>${escapeHtml(options.title ?? '云胶片')}</title>
${options.preload ? `<link rel="preload" as="image" href="${escapeHtml(options.preload)}">` : ''}
${assets.style ? `<style>${assets.style}</style>` : ''}</head>
<body><header class="bar"><span class="brand">${t('云胶片', 'Cloud film')}</span><button type="button" id="lang" class="lang" hidden>${t('EN', '中文')}</button></header>
<main>${body}</main>${data}${assets.script ? `<script type="module">${assets.script}</script>` : ''}</body></html>`;
}

/** A page for a refusal: unknown, expired, withdrawn, throttled; never a JSON error. */
export function messagePage(kind: 'not-found' | 'expired' | 'revoked' | 'throttled' | 'locked' | 'error' | 'unauthorized', retryAfterSeconds?: number): string {
  const minutes = retryAfterSeconds ? Math.max(1, Math.ceil(retryAfterSeconds / 60)) : undefined;
  const texts: Record<typeof kind, [string, string, string, string]> = {
    'not-found': ['链接无效', 'Link not found', '请核对链接或二维码，或联系为您检查的医院。', 'Check the link or QR code, or contact the hospital that did your exam.'],
    expired: ['链接已过期', 'This link has expired', '云胶片链接有有效期。如需再次查看，请联系为您检查的医院重新获取。', 'Cloud-film links are valid for a limited time. Ask the hospital that did your exam for a new one.'],
    revoked: ['链接已停用', 'This link has been withdrawn', '此链接已被医院或患者本人停用。如需查看，请联系为您检查的医院。', 'The hospital or the patient has withdrawn this link. Contact the hospital that did your exam.'],
    throttled: ['尝试次数过多', 'Too many attempts', `访问码错误次数过多，请约 ${minutes ?? 15} 分钟后再试。`, `Too many wrong access codes. Try again in about ${minutes ?? 15} minutes.`],
    locked: ['访问码已锁定', 'Access code locked', '此链接的访问码错误次数过多，已锁定。请联系医院获取新的访问码。', 'Too many wrong codes for this link. Ask the hospital for a new access code.'],
    unauthorized: ['需要访问码', 'Access code required', '请先打开链接并输入访问码。', 'Open the link and enter the access code first.'],
    error: ['暂时无法打开', 'Cannot open right now', '请稍后再试。', 'Please try again later.'],
  };
  const [zh, en, zhText, enText] = texts[kind];
  return layout(`<section class="card message" data-state="${kind}"><h1>${t(zh, en)}</h1><p>${t(zhText, enText)}</p>${retryAfterSeconds ? `<p class="retry" data-retry-after="${retryAfterSeconds}">${t(`${retryAfterSeconds} 秒后可重试`, `Retry after ${retryAfterSeconds} s`)}</p>` : ''}</section>`, { title: zh });
}

/** The code form; `wrong` after a failed attempt. */
export function unlockPage(token: string, wrong: boolean): string {
  return layout(`<section class="card unlock" data-state="locked">
<h1>${t('请输入访问码', 'Enter the access code')}</h1>
<p>${t('访问码印在检查报告上，或以短信发送给您。', 'The access code is printed on your report or was sent to you by SMS.')}</p>
${wrong ? `<p class="error" id="code-error" role="alert">${t('访问码不正确，请重试。', 'Wrong access code, please try again.')}</p>` : ''}
<form method="post" action="/s/${segment(token)}/unlock" id="unlock">
<input name="code" id="code" inputmode="numeric" pattern="[0-9]{4,6}" minlength="4" maxlength="6" autocomplete="one-time-code" required aria-label="访问码">
<button type="submit" id="unlock-submit">${t('查看', 'Open')}</button></form></section>`, { title: '云胶片 · 访问码' });
}

function formatDate(yyyymmdd: string | null): string {
  if (!yyyymmdd || !/^\d{8}$/.test(yyyymmdd)) return yyyymmdd ?? '';
  return `${yyyymmdd.slice(0, 4)}-${yyyymmdd.slice(4, 6)}-${yyyymmdd.slice(6, 8)}`;
}

/** DICOM TM (HHMMSS.FFFFFF, parts may be left off) as HH:MM: the modality's wall clock, not shifted. */
function formatStudyTime(tm: string | null): string {
  const clock = /^(\d{2})(\d{2})?/.exec(tm?.trim() ?? '');
  return clock ? `${clock[1]}:${clock[2] ?? '00'}` : '';
}

function paragraphs(text: string): string {
  return text
    .split(/\r?\n/)
    .filter((line) => line.trim() !== '')
    .map((line) => `<p>${escapeHtml(line)}</p>`)
    .join('');
}

/** The film itself: exam, report, viewer, thumbnails, downloads, onward sharing. */
export function filmPage(token: string, data: PatientPageData): string {
  // Tokens are URL-safe as issued; encoded anyway, as every value written into the page is.
  const base = `/s/${encodeURIComponent(token)}`;
  // Instants (signing, addenda, expiry) in the deployment's zone, which the page names once.
  const local = (iso: string): string => escapeHtml(zonedMinutes(iso, data.timeZone));
  const studyTime = formatStudyTime(data.exam.time);
  const first = data.series[0];
  // The middle slice of the first series, as the viewer script picks it (frames of multi-frame images are slices).
  const slices = first ? first.images.flatMap(([sop, frames]) => Array.from({ length: frames }, (_, f) => [sop, f + 1] as const)) : [];
  const firstImage = slices[Math.floor((slices.length - 1) / 2)];
  const preload = first && firstImage ? `${base}/images/${encodeURIComponent(first.uid)}/${encodeURIComponent(firstImage[0])}.jpg?frame=${firstImage[1]}&fidelity=small` : undefined;
  const report = data.report
    ? `<section class="card report" id="report"><h2>${t('诊断报告', 'Report')}</h2>
<h3>${t('影像所见', 'Findings')}</h3><div class="text" id="findings">${paragraphs(data.report.findings)}</div>
<h3>${t('诊断意见', 'Impression')}</h3><div class="text" id="impression">${paragraphs(data.report.impression)}</div>
${data.report.addenda.map((a) => `<h3>${t('补充意见', 'Addendum')} <small class="addendum-at">${local(a.at)}</small></h3><div class="text">${paragraphs(a.text)}</div>`).join('')}
<p class="meta">${escapeHtml(data.report.readingInstitution)}${data.report.signedAt ? ` · ${t('签发于', 'signed')} <span id="signed-at">${local(data.report.signedAt)}</span>` : ''}</p>
${data.report.reportNumber ? `<p class="meta" id="report-number">${t('报告编号', 'Report No.')} <span data-identifier>${escapeHtml(data.report.reportNumber)}</span> · <span id="report-version">${t(`第 ${1 + data.report.addenda.length} 版`, `version ${1 + data.report.addenda.length}`)}</span></p>` : ''}</section>`
    : `<section class="card report" id="report"><h2>${t('诊断报告', 'Report')}</h2><p class="meta">${t('报告尚未签发。', 'The report has not been signed yet.')}</p></section>`;
  const thumbs = data.series
    .map((s, i) => `<li><a href="#viewer" class="thumb" data-series="${i}"><img src="${escapeHtml(base)}/series/${segment(s.uid)}/thumbnail.jpg" alt="" width="96" height="96" loading="${i < 6 ? 'eager' : 'lazy'}"><span>${escapeHtml(`${s.modality ?? ''} ${s.description ?? ''}`.trim() || `#${s.number ?? i + 1}`)}</span><small>${s.images.reduce((n, [, frames]) => n + frames, 0)}</small></a></li>`)
    .join('');
  const viewer = first
    ? `<section class="viewer" id="viewer" aria-label="viewer">
<div class="stage" id="stage"><img id="view-img" alt="" ${preload ? `src="${escapeHtml(preload)}"` : ''} draggable="false"><div class="hud"><span id="slice-no"></span><span id="fidelity"></span></div></div>
<input type="range" id="slider" min="1" max="1" value="1" aria-label="slice">
<div class="tools" id="tools"><button type="button" data-window="" class="on">${t('默认', 'Default')}</button>${data.windows.map(([zh, en, c, w]) => `<button type="button" data-window="${escapeHtml(`${c},${w}`)}">${t(zh, en)}</button>`).join('')}<button type="button" id="hd">${t('高清', 'HD')}</button><button type="button" id="fit">${t('复位', 'Reset')}</button></div>
<p class="hint">${t('上下或左右滑动切换层面，双指缩放', 'Swipe to move through slices, pinch to zoom')}</p></section>`
    : `<section class="card"><p>${t('此检查没有可显示的图像。', 'This exam has no images to show.')}</p></section>`;
  const body = `<section class="card exam" id="exam">
<p class="institution" id="institution">${escapeHtml(data.institution)}</p>
<h1 id="exam-title">${escapeHtml(data.exam.description ?? data.exam.modalities.join(' '))}</h1>
<p class="meta"><span id="exam-date">${escapeHtml(formatDate(data.exam.date))}</span>${studyTime ? ` <span id="exam-time">${escapeHtml(studyTime)}</span>` : ''} · ${escapeHtml(data.exam.modalities.join('/'))}${data.patient.name ? ` · ${escapeHtml(data.patient.name)}` : ''}</p>
${data.link.kind === 'onward' ? `<p class="meta">${t('患者分享给', 'Shared by the patient with')} ${escapeHtml(data.link.recipient ?? '')}</p>` : ''}</section>
${viewer}
${data.series.length > 1 ? `<section class="card"><h2>${t('序列', 'Series')}</h2><ul class="thumbs" id="thumbs">${thumbs}</ul></section>` : `<ul class="thumbs hidden" id="thumbs">${thumbs}</ul>`}
${report}
<section class="card downloads"><h2>${t('下载', 'Download')}</h2>
<a class="button" id="download-dicom" href="${escapeHtml(base)}/download/dicom.zip" download>${t('原始 DICOM 文件（zip）', 'Original DICOM files (zip)')}</a>
<a class="button" id="download-jpeg" href="${escapeHtml(base)}/download/jpeg.zip" download>${t('JPEG 图片（zip）', 'JPEG images (zip)')}</a></section>
${data.link.mayShare ? `<section class="card share" id="share"><h2>${t('分享给医生', 'Share with a doctor')}</h2>
<form id="onward-form"><label>${t('医生或医院', 'Doctor or hospital')}<input name="recipient" id="recipient" maxlength="60" required></label>
<label>${t('有效天数', 'Valid for (days)')}<select name="days" id="days"><option>1</option><option selected>3</option><option>7</option></select></label>
<button type="submit">${t('生成分享链接', 'Create link')}</button></form><div id="onward-result" class="result" hidden></div>
<h3>${t('谁打开过我的云胶片', 'Who opened my film')}</h3><button type="button" id="show-accesses">${t('查看记录', 'Show')}</button><ul id="accesses" class="accesses"></ul></section>` : ''}
<p class="foot">${t('有效期至', 'Valid until')} <span id="expires-at">${local(data.link.expiresAt)}</span> (<span id="time-zone">${escapeHtml(data.timeZone)}</span>) · ${t('本页面仅供本人及其授权的医生查看，请勿公开转发。', 'For the patient and the doctors they choose; do not post publicly.')}</p>`;
  return layout(body, { data: { ...data, base }, preload, title: `${data.institution} · 云胶片` });
}
