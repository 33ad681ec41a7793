// The cloud-film page's only script (the patient's /s/{token} page, rendered by the server in
// packages/server/src/share/patient-page.ts). Built by Vite with the web app into
// dist/cloud-film/cloud-film.js as one self-contained ES module with no imports: the server
// inlines it and allows it by its SHA-256 in the page's Content-Security-Policy, so the page
// loads nothing but its own images. Keep it free of dependencies.
import './cloud-film.css';
import { both, localTime } from './film-text.ts';
import { showTimeline, type TimelineExam } from './my-exams.ts';

/** The part of the page data (server: PatientPageData plus `base`) that the script reads. */
interface FilmData {
  /** `/s/{token}`: every URL of the film starts here */
  base: string;
  series: Array<{ uid: string; images: Array<[string, number]> }>;
  /** the deployment's zone (IANA, e.g. Asia/Shanghai): times are shown in it, not in the phone's */
  timeZone?: string;
  /** the patient's own exams that the patient's links cover, and who accessed each (issue 17); absent on older servers */
  timeline?: TimelineExam[];
}


/** What POST {base}/onward answers. */
interface OnwardLink {
  url: string;
  accessCode?: string;
  expiresAt: string;
  qrSvg?: string;
}

/** What GET {base}/accesses answers. */
interface AccessList {
  accesses: Array<{ at: string; action: string; who: string | null; device: string | null }>;
  onward: Array<{ id: string; recipient: string | null; expiresAt: string; status: string }>;
}

declare global {
  interface Window {
    /** when the first image was shown (performance.now()), read by the load tests */
    __filmFirstImage?: number;
  }
}

type Slice = [sopInstanceUid: string, frame: number];
type Point = { x: number; y: number };

/** An element the server's markup always has when this part of the page is there. */
function required<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`cloud film: #${id} is missing`);
  return element as T;
}


const html = document.documentElement;
const langButton = document.getElementById('lang');
const setLang = (lang: 'zh' | 'en'): void => {
  html.classList.remove('zh', 'en');
  html.classList.add(lang);
  html.lang = lang === 'en' ? 'en' : 'zh-CN';
  try {
    localStorage.setItem('yy-lang', lang);
  } catch {
    /* private mode */
  }
};
try {
  if (localStorage.getItem('yy-lang') === 'en') setLang('en');
} catch {
  /* private mode */
}
if (langButton) {
  langButton.hidden = false;
  langButton.addEventListener('click', () => setLang(html.classList.contains('en') ? 'zh' : 'en'));
}

const dataElement = document.getElementById('film-data');
if (dataElement) {
  const data = JSON.parse(dataElement.textContent ?? '{}') as FilmData;
  if (data.timeline) showTimeline(data.timeline, data.timeZone);
  startFilm(data);
}


function slicesOf(series: FilmData['series'][number]): Slice[] {
  const slices: Slice[] = [];
  for (const [sop, frames] of series.images) for (let f = 1; f <= frames; f++) slices.push([sop, f]);
  return slices;
}

function startFilm(data: FilmData): void {
  const img = document.getElementById('view-img') as HTMLImageElement | null;
  if (!img || data.series.length === 0) return startSharing(data);
  const stage = required<HTMLDivElement>('stage');
  const slider = required<HTMLInputElement>('slider');
  const sliceNo = required<HTMLSpanElement>('slice-no');
  const fidelityLabel = required<HTMLSpanElement>('fidelity');
  const state = { series: 0, slice: 0, window: '', full: false, scale: 1, x: 0, y: 0 };
  let slices: Slice[] = [];

  const setSeries = (index: number): void => {
    state.series = index;
    slices = slicesOf(data.series[index]!);
    state.slice = Math.floor((slices.length - 1) / 2);
    slider.max = String(slices.length);
    resetView();
    show();
  };

  const urlOf = (slice: number, fidelity: 'small' | 'full'): string => {
    const [sop, frame] = slices[slice]!;
    const w = state.window ? `&window=${encodeURIComponent(state.window)}` : '';
    // UIDs are one path segment each, whatever an old archive holds (issue 12, finding 6).
    return `${data.base}/images/${encodeURIComponent(data.series[state.series]!.uid)}/${encodeURIComponent(sop)}.jpg?frame=${frame}&fidelity=${fidelity}${w}`;
  };

  // Images come with Cache-Control: no-store, so the browser keeps none of them: the page
  // keeps the last ones it fetched as blob: URLs (allowed by the CSP) for swiping back.
  const blobs = new Map<string, Promise<string>>();
  const load = (url: string): Promise<string> => {
    let pending = blobs.get(url);
    if (pending) {
      blobs.delete(url);
      blobs.set(url, pending);
      return pending;
    }
    pending = window
      .fetch(url, { credentials: 'same-origin' })
      .then((r) => (r.ok ? r.blob() : Promise.reject(new Error(String(r.status)))))
      .then((b) => URL.createObjectURL(b));
    pending.catch(() => blobs.delete(url));
    blobs.set(url, pending);
    if (blobs.size > 120) {
      const [oldest, old] = blobs.entries().next().value!;
      blobs.delete(oldest);
      old.then(
        (u) => setTimeout(() => URL.revokeObjectURL(u), 5000),
        () => undefined,
      );
    }
    return pending;
  };

  let shown = '';
  // A busy server (503 DECODER_BUSY) or a dropped connection must not leave the phone blank:
  // the image on screen is fetched again, a few times, later each time.
  const failedAttempts = new Map<string, number>();
  const retryShown = (url: string): void => {
    const attempt = (failedAttempts.get(url) ?? 0) + 1;
    if (shown !== url || attempt > 5) return;
    failedAttempts.set(url, attempt);
    window.setTimeout(() => {
      if (shown !== url) return;
      shown = '';
      show();
    }, 500 * attempt);
  };
  const show = (): void => {
    const fidelity = state.full ? 'full' : 'small';
    const url = urlOf(state.slice, fidelity);
    if (url !== shown) {
      shown = url;
      // The previous image stays on screen until the next one has arrived.
      load(url).then(
        (objectUrl) => {
          if (shown !== url) return;
          img.src = objectUrl;
          img.dataset.url = url;
        },
        () => retryShown(url),
      );
    }
    img.dataset.slice = String(state.slice + 1);
    img.dataset.series = String(state.series);
    slider.value = String(state.slice + 1);
    sliceNo.textContent = `${state.slice + 1} / ${slices.length}`;
    if (state.full !== (fidelityLabel.dataset.full === 'yes')) {
      fidelityLabel.dataset.full = state.full ? 'yes' : 'no';
      fidelityLabel.replaceChildren(...(state.full ? [both('高清', 'HD')] : []));
    }
    prefetch();
  };

  // Neighbouring slices at low resolution, so swiping does not wait on the network.
  const prefetch = (): void => {
    for (const d of [1, -1, 2, -2, 3, 4, 5, 6]) {
      const s = state.slice + d;
      if (s >= 0 && s < slices.length) void load(urlOf(s, 'small'));
    }
  };

  let firstLoaded = false;
  const markFirstImage = (): void => {
    if (firstLoaded) return;
    firstLoaded = true;
    window.__filmFirstImage = window.performance.now();
    html.dataset.firstImage = 'yes';
  };
  img.addEventListener('load', () => {
    markFirstImage();
    img.dataset.loaded = img.dataset.url || 'first';
  });
  // The page's preloaded image may be on screen before this script runs (a busy phone, a
  // fast server): its load event has passed, and the image is there all the same.
  if (img.complete && img.naturalWidth > 0) markFirstImage();

  const step = (delta: number): void => {
    const next = Math.min(slices.length - 1, Math.max(0, state.slice + delta));
    if (next !== state.slice) {
      state.slice = next;
      show();
    }
  };

  const applyTransform = (): void => {
    img.style.transform = `translate(${state.x}px, ${state.y}px) scale(${state.scale})`;
  };
  const resetView = (): void => {
    state.scale = 1;
    state.x = 0;
    state.y = 0;
    applyTransform();
  };

  // Pointer gestures: one finger or the mouse drags through slices (or pans when zoomed),
  // two fingers pinch to zoom. Zooming past 1.6x fetches the full-fidelity image.
  const pointers = new Map<number, Point>();
  let drag: { x: number; y: number; acc: number; panX: number; panY: number } | null = null;
  let pinch: { distance: number; scale: number } | null = null;
  const STEP_PX = 12;
  stage.addEventListener('pointerdown', (event) => {
    stage.setPointerCapture(event.pointerId);
    pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
    if (pointers.size === 1) drag = { x: event.clientX, y: event.clientY, acc: 0, panX: state.x, panY: state.y };
    if (pointers.size === 2) {
      const [a, b] = [...pointers.values()] as [Point, Point];
      pinch = { distance: Math.hypot(a.x - b.x, a.y - b.y) || 1, scale: state.scale };
      drag = null;
    }
  });
  stage.addEventListener('pointermove', (event) => {
    if (!pointers.has(event.pointerId)) return;
    pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
    if (pinch && pointers.size >= 2) {
      const [a, b] = [...pointers.values()] as [Point, Point];
      state.scale = Math.min(8, Math.max(1, (pinch.scale * Math.hypot(a.x - b.x, a.y - b.y)) / pinch.distance));
      applyTransform();
      return;
    }
    if (!drag) return;
    const dx = event.clientX - drag.x;
    const dy = event.clientY - drag.y;
    if (state.scale > 1.05) {
      state.x = drag.panX + dx;
      state.y = drag.panY + dy;
      applyTransform();
      return;
    }
    // Like scrolling a page or a carousel: finger up or left shows the next slice.
    const along = -(Math.abs(dy) > Math.abs(dx) ? dy : dx);
    const slicesMoved = Math.trunc(along / STEP_PX) - drag.acc;
    if (slicesMoved !== 0) {
      drag.acc += slicesMoved;
      step(slicesMoved);
    }
  });
  const end = (event: PointerEvent): void => {
    pointers.delete(event.pointerId);
    if (pointers.size < 2 && pinch) {
      pinch = null;
      if (state.scale >= 1.6 && !state.full) {
        state.full = true;
        show();
      }
    }
    if (pointers.size === 0) drag = null;
    else if (pointers.size === 1) {
      const [p] = [...pointers.values()] as [Point];
      drag = { x: p.x, y: p.y, acc: 0, panX: state.x, panY: state.y };
    }
  };
  stage.addEventListener('pointerup', end);
  stage.addEventListener('pointercancel', end);
  stage.addEventListener(
    'wheel',
    (event) => {
      event.preventDefault();
      step(event.deltaY > 0 ? 1 : -1);
    },
    { passive: false },
  );
  // Double tap (two short one-finger taps that did not move) resets the zoom.
  let gesture: { x: number; y: number; at: number; multi: boolean; moved: boolean } | null = null;
  let lastTap = 0;
  stage.addEventListener('pointerdown', (event) => {
    if (pointers.size === 1) gesture = { x: event.clientX, y: event.clientY, at: Date.now(), multi: false, moved: false };
    else if (gesture) gesture.multi = true;
  });
  stage.addEventListener('pointermove', (event) => {
    if (gesture && Math.hypot(event.clientX - gesture.x, event.clientY - gesture.y) > 10) gesture.moved = true;
  });
  stage.addEventListener('pointerup', () => {
    if (pointers.size !== 0 || !gesture) return;
    const tap = !gesture.multi && !gesture.moved && Date.now() - gesture.at < 300;
    gesture = null;
    if (!tap) return;
    const now = Date.now();
    if (now - lastTap < 350) resetView();
    lastTap = now;
  });
  document.addEventListener('keydown', (event) => {
    if (event.key === 'ArrowDown' || event.key === 'ArrowRight') step(1);
    if (event.key === 'ArrowUp' || event.key === 'ArrowLeft') step(-1);
  });
  slider.addEventListener('input', () => {
    state.slice = Number(slider.value) - 1;
    show();
  });

  const windowButtons = [...document.querySelectorAll<HTMLButtonElement>('[data-window]')];
  for (const button of windowButtons) {
    button.addEventListener('click', () => {
      state.window = button.dataset.window ?? '';
      for (const other of windowButtons) other.classList.toggle('on', other === button);
      show();
    });
  }
  required<HTMLButtonElement>('hd').addEventListener('click', () => {
    state.full = !state.full;
    show();
  });
  required<HTMLButtonElement>('fit').addEventListener('click', () => {
    resetView();
    state.full = false;
    show();
  });
  for (const link of document.querySelectorAll<HTMLAnchorElement>('.thumb')) {
    link.addEventListener('click', (event) => {
      event.preventDefault();
      state.full = false;
      setSeries(Number(link.dataset.series));
      stage.scrollIntoView({ behavior: 'smooth', block: 'center' });
    });
  }

  // The server already put the first image in the page (preload + src): keep it.
  slices = slicesOf(data.series[0]!);
  state.slice = Math.floor((slices.length - 1) / 2);
  slider.max = String(slices.length);
  // The first image is the server's <img src> (preloaded in <head>): keep it and only prefetch.
  shown = img.getAttribute('src') || '';
  img.dataset.url = shown;
  // If the server could not give that first image (busy, a dropped connection), fetch it
  // again like any other: the error may have happened before this script ran.
  const preloaded = shown;
  img.addEventListener('error', () => {
    if (preloaded && img.getAttribute('src') === preloaded) retryShown(preloaded);
  });
  if (preloaded && img.complete && img.naturalWidth === 0) retryShown(preloaded);
  requestAnimationFrame(show);
  startSharing(data);
}

function startSharing(data: FilmData): void {
  const form = document.getElementById('onward-form') as HTMLFormElement | null;
  if (!form) return;
  const result = required<HTMLDivElement>('onward-result');
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const fields = new FormData(form);
    const response = await window.fetch(`${data.base}/onward`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ recipient: String(fields.get('recipient') || ''), days: Number(fields.get('days') || 3) }),
    });
    result.hidden = false;
    result.textContent = '';
    if (!response.ok) {
      result.replaceChildren(response.status === 401 ? both('请重新输入访问码', 'Enter the code again') : both('无法生成链接', 'Could not create the link'));
      return;
    }
    const link = (await response.json()) as OnwardLink;
    const add = (tag: string, text: string | Node, id?: string, ...more: Array<string | Node>): void => {
      const element = document.createElement(tag);
      element.append(text, ...more);
      if (id) element.id = id;
      result.appendChild(element);
    };
    add('p', link.url, 'onward-url');
    if (link.accessCode) add('p', both('访问码：', 'Access code: '), 'onward-code', link.accessCode);
    add('p', both('有效期至 ', 'Valid until '), 'onward-expires', `${localTime(link.expiresAt, data.timeZone)}${data.timeZone ? ` (${data.timeZone})` : ''}`);
    if (link.qrSvg) {
      const holder = document.createElement('div');
      holder.innerHTML = link.qrSvg; // generated by the server from the link only
      result.appendChild(holder);
    }
  });
  const list = required<HTMLUListElement>('accesses');
  required<HTMLButtonElement>('show-accesses').addEventListener('click', async () => {
    const response = await window.fetch(`${data.base}/accesses`);
    list.textContent = '';
    if (!response.ok) return;
    const answer = (await response.json()) as AccessList;
    const names: Record<string, [string, string]> = { opened: ['打开', 'opened'], 'viewed-images': ['看图', 'viewed'], 'viewed-full': ['看高清', 'viewed HD'], 'downloaded-dicom': ['下载 DICOM', 'downloaded DICOM'], 'downloaded-jpeg': ['下载 JPEG', 'downloaded JPEG'], 'code-failed': ['访问码错误', 'wrong code'], unlocked: ['输入访问码', 'unlocked'], 'shared-onward': ['分享', 'shared'] };
    for (const access of answer.accesses) {
      const item = document.createElement('li');
      const name = names[access.action];
      item.append(`${localTime(access.at, data.timeZone)} · `, access.who ?? both('本人', 'you'), ' · ', name ? both(...name) : access.action, access.device ? ` · ${access.device}` : '');
      list.appendChild(item);
    }
    for (const onward of answer.onward.filter((o) => o.status === 'live')) {
      const item = document.createElement('li');
      item.textContent = `→ ${onward.recipient} (${localTime(onward.expiresAt, data.timeZone)}) `;
      const revoke = document.createElement('button');
      revoke.type = 'button';
      revoke.append(both('停用', 'withdraw'));
      revoke.addEventListener('click', async () => {
        await window.fetch(`${data.base}/onward/${onward.id}/revoke`, { method: 'POST' });
        item.remove();
      });
      item.appendChild(revoke);
      list.appendChild(item);
    }
  });
}

