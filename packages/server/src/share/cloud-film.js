/* global document, window, localStorage, requestAnimationFrame, FormData */
// The cloud-film page's only script, served inline (CSP by hash) by share/patient-page.ts.
// Hand-written JavaScript on purpose: it is small, runs as-is in every phone browser, and
// needs no build step or bundler in the server; the TypeScript strictness of the rest of
// the code base is traded for a file a reviewer reads in five minutes.

const html = document.documentElement;
const langButton = document.getElementById('lang');
const setLang = (lang) => {
  html.classList.remove('zh', 'en');
  html.classList.add(lang);
  html.lang = lang === 'en' ? 'en' : 'zh-CN';
  try { localStorage.setItem('yy-lang', lang); } catch { /* private mode */ }
};
try { if (localStorage.getItem('yy-lang') === 'en') setLang('en'); } catch { /* private mode */ }
if (langButton) {
  langButton.hidden = false;
  langButton.addEventListener('click', () => setLang(html.classList.contains('en') ? 'zh' : 'en'));
}

const dataElement = document.getElementById('film-data');
if (dataElement) startFilm(JSON.parse(dataElement.textContent));

function startFilm(data) {
  const img = document.getElementById('view-img');
  if (!img || data.series.length === 0) return startSharing(data);
  const stage = document.getElementById('stage');
  const slider = document.getElementById('slider');
  const sliceNo = document.getElementById('slice-no');
  const fidelityLabel = document.getElementById('fidelity');
  const state = { series: 0, slice: 0, window: '', full: false, scale: 1, x: 0, y: 0 };
  let slices = [];

  const setSeries = (index) => {
    state.series = index;
    slices = [];
    for (const [sop, frames] of data.series[index].images) for (let f = 1; f <= frames; f++) slices.push([sop, f]);
    state.slice = Math.floor((slices.length - 1) / 2);
    slider.max = String(slices.length);
    resetView();
    show();
  };

  const urlOf = (slice, fidelity) => {
    const [sop, frame] = slices[slice];
    const w = state.window ? `&window=${encodeURIComponent(state.window)}` : '';
    // UIDs are one path segment each, whatever an old archive holds (issue 12, finding 6).
    return `${data.base}/images/${encodeURIComponent(data.series[state.series].uid)}/${encodeURIComponent(sop)}.jpg?frame=${frame}&fidelity=${fidelity}${w}`;
  };

  // Images come with Cache-Control: no-store, so the browser keeps none of them: the page
  // keeps the last ones it fetched as blob: URLs (allowed by the CSP) for swiping back.
  const blobs = new Map();
  const load = (url) => {
    let pending = blobs.get(url);
    if (pending) {
      blobs.delete(url);
      blobs.set(url, pending);
      return pending;
    }
    pending = window.fetch(url, { credentials: 'same-origin' }).then((r) => (r.ok ? r.blob() : Promise.reject(new Error(String(r.status))))).then((b) => URL.createObjectURL(b));
    pending.catch(() => blobs.delete(url));
    blobs.set(url, pending);
    if (blobs.size > 120) {
      const [oldest, old] = blobs.entries().next().value;
      blobs.delete(oldest);
      old.then((u) => setTimeout(() => URL.revokeObjectURL(u), 5000), () => undefined);
    }
    return pending;
  };

  let shown = '';
  const show = () => {
    const fidelity = state.full ? 'full' : 'small';
    const url = urlOf(state.slice, fidelity);
    if (url !== shown) {
      shown = url;
      // The previous image stays on screen until the next one has arrived.
      load(url).then((objectUrl) => {
        if (shown !== url) return;
        img.src = objectUrl;
        img.dataset.url = url;
      }, () => undefined);
    }
    img.dataset.slice = String(state.slice + 1);
    img.dataset.series = String(state.series);
    slider.value = String(state.slice + 1);
    sliceNo.textContent = `${state.slice + 1} / ${slices.length}`;
    fidelityLabel.textContent = state.full ? 'HD' : '';
    prefetch();
  };

  // Neighbouring slices at low resolution, so swiping does not wait on the network.
  const prefetch = () => {
    for (const d of [1, -1, 2, -2, 3, 4, 5, 6]) {
      const s = state.slice + d;
      if (s >= 0 && s < slices.length) load(urlOf(s, 'small'));
    }
  };

  let firstLoaded = false;
  img.addEventListener('load', () => {
    if (!firstLoaded) {
      firstLoaded = true;
      window.__filmFirstImage = window.performance.now();
      html.dataset.firstImage = 'yes';
    }
    img.dataset.loaded = img.dataset.url || 'first';
  });

  const step = (delta) => {
    const next = Math.min(slices.length - 1, Math.max(0, state.slice + delta));
    if (next !== state.slice) {
      state.slice = next;
      show();
    }
  };

  const applyTransform = () => {
    img.style.transform = `translate(${state.x}px, ${state.y}px) scale(${state.scale})`;
  };
  const resetView = () => {
    state.scale = 1;
    state.x = 0;
    state.y = 0;
    applyTransform();
  };

  // Pointer gestures: one finger or the mouse drags through slices (or pans when zoomed),
  // two fingers pinch to zoom. Zooming past 1.6x fetches the full-fidelity image.
  const pointers = new Map();
  let drag = null;
  let pinch = null;
  const STEP_PX = 12;
  stage.addEventListener('pointerdown', (event) => {
    stage.setPointerCapture(event.pointerId);
    pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
    if (pointers.size === 1) drag = { x: event.clientX, y: event.clientY, acc: 0, panX: state.x, panY: state.y };
    if (pointers.size === 2) {
      const [a, b] = [...pointers.values()];
      pinch = { distance: Math.hypot(a.x - b.x, a.y - b.y) || 1, scale: state.scale };
      drag = null;
    }
  });
  stage.addEventListener('pointermove', (event) => {
    if (!pointers.has(event.pointerId)) return;
    pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
    if (pinch && pointers.size >= 2) {
      const [a, b] = [...pointers.values()];
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
  const end = (event) => {
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
      const [p] = [...pointers.values()];
      drag = { x: p.x, y: p.y, acc: 0, panX: state.x, panY: state.y };
    }
  };
  stage.addEventListener('pointerup', end);
  stage.addEventListener('pointercancel', end);
  stage.addEventListener('wheel', (event) => {
    event.preventDefault();
    step(event.deltaY > 0 ? 1 : -1);
  }, { passive: false });
  // Double tap (two short one-finger taps that did not move) resets the zoom.
  let gesture = null;
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

  for (const button of document.querySelectorAll('[data-window]')) {
    button.addEventListener('click', () => {
      state.window = button.dataset.window;
      for (const other of document.querySelectorAll('[data-window]')) other.classList.toggle('on', other === button);
      show();
    });
  }
  document.getElementById('hd').addEventListener('click', () => {
    state.full = !state.full;
    show();
  });
  document.getElementById('fit').addEventListener('click', () => {
    resetView();
    state.full = false;
    show();
  });
  for (const link of document.querySelectorAll('.thumb')) {
    link.addEventListener('click', (event) => {
      event.preventDefault();
      state.full = false;
      setSeries(Number(link.dataset.series));
      stage.scrollIntoView({ behavior: 'smooth', block: 'center' });
    });
  }

  // The server already put the first image in the page (preload + src): keep it.
  slices = [];
  for (const [sop, frames] of data.series[0].images) for (let f = 1; f <= frames; f++) slices.push([sop, f]);
  state.slice = Math.floor((slices.length - 1) / 2);
  slider.max = String(slices.length);
  // The first image is the server's <img src> (preloaded in <head>): keep it and only prefetch.
  shown = img.getAttribute('src') || '';
  img.dataset.url = shown;
  requestAnimationFrame(show);
  startSharing(data);
}

function startSharing(data) {
  const form = document.getElementById('onward-form');
  if (!form) return;
  const result = document.getElementById('onward-result');
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
      result.textContent = response.status === 401 ? '请重新输入访问码 / Enter the code again' : '无法生成链接 / Could not create the link';
      return;
    }
    const link = await response.json();
    const add = (tag, text, id) => {
      const element = document.createElement(tag);
      element.textContent = text;
      if (id) element.id = id;
      result.appendChild(element);
    };
    add('p', link.url, 'onward-url');
    if (link.accessCode) add('p', `访问码 Access code: ${link.accessCode}`, 'onward-code');
    add('p', `有效期至 Valid until ${link.expiresAt.slice(0, 10)}`);
    if (link.qrSvg) {
      const holder = document.createElement('div');
      holder.innerHTML = link.qrSvg; // generated by the server from the link only
      result.appendChild(holder);
    }
  });
  const list = document.getElementById('accesses');
  document.getElementById('show-accesses').addEventListener('click', async () => {
    const response = await window.fetch(`${data.base}/accesses`);
    list.textContent = '';
    if (!response.ok) return;
    const answer = await response.json();
    const names = { opened: '打开 opened', 'viewed-images': '看图 viewed', 'viewed-full': '看高清 viewed HD', 'downloaded-dicom': '下载DICOM downloaded', 'downloaded-jpeg': '下载JPEG downloaded', 'code-failed': '访问码错误 wrong code', unlocked: '输入访问码 unlocked', 'shared-onward': '分享 shared' };
    for (const access of answer.accesses) {
      const item = document.createElement('li');
      item.textContent = `${new Date(access.at).toLocaleString()} · ${access.who ?? '本人 you'} · ${names[access.action] ?? access.action}${access.device ? ` · ${access.device}` : ''}`;
      list.appendChild(item);
    }
    for (const onward of answer.onward.filter((o) => o.status === 'live')) {
      const item = document.createElement('li');
      item.textContent = `→ ${onward.recipient} (${onward.expiresAt.slice(0, 10)}) `;
      const revoke = document.createElement('button');
      revoke.type = 'button';
      revoke.textContent = '停用 withdraw';
      revoke.addEventListener('click', async () => {
        await window.fetch(`${data.base}/onward/${onward.id}/revoke`, { method: 'POST' });
        item.remove();
      });
      item.appendChild(revoke);
      list.appendChild(item);
    }
  });
}
