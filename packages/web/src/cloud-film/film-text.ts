// The cloud-film page's texts: both languages at once, and instants in the hospital's zone (cloud-film.ts, my-exams.ts).

/**
 * A text in both languages, as the server writes them (patient-page.ts t()): the page's CSS
 * shows the one of the page's language (html.zh / html.en), so a switch needs no re-render.
 */
export function both(zh: string, en: string): DocumentFragment {
  const fragment = document.createDocumentFragment();
  for (const [lang, text] of [['zh', zh], ['en', en]] as const) {
    const span = document.createElement('span');
    span.className = lang;
    span.textContent = text;
    fragment.appendChild(span);
  }
  return fragment;
}

/**
 * An ISO instant as YYYY-MM-DD HH:mm in the server's zone (the patient's phone may be set to
 * any zone; the hospital's clock is the one on the report). Falls back to the phone's zone
 * only when the name is unknown to this browser.
 */
export function localTime(iso: string, timeZone: string | undefined): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return iso;
  const options: Intl.DateTimeFormatOptions = { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' };
  let formatter: Intl.DateTimeFormat;
  try {
    formatter = new Intl.DateTimeFormat('en-US', { ...options, timeZone });
  } catch {
    formatter = new Intl.DateTimeFormat('en-US', options);
  }
  const parts = Object.fromEntries(formatter.formatToParts(at).map((part) => [part.type, part.value]));
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}`;
}
