import { UNAUTHORIZED_EVENT, clearToken, currentToken } from './session.ts';
import { refusalMessage } from '../i18n/errors.ts';
import { storedLocale } from '../i18n/i18n.tsx';

/** An error answer of the server: `{ code, message }` with its HTTP status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** machine-readable particulars of the refusal, e.g. `{ rule }` of WEAK_PASSWORD */
    readonly details?: Record<string, string | number>,
  ) {
    super(message);
  }
}

export type Query = Record<string, string | number | boolean | undefined | null>;

export function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) if (value !== undefined && value !== null && value !== '') params.set(name, String(value));
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

/** fetch with the bearer token; a 401 ends the session. */
export async function apiFetch(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  const token = currentToken();
  if (token && !headers.has('authorization')) headers.set('authorization', `Bearer ${token}`);
  const response = await fetch(path, { ...init, headers });
  if (response.status === 401 && token) {
    clearToken();
    window.dispatchEvent(new CustomEvent(UNAUTHORIZED_EVENT));
  }
  return response;
}

async function errorOf(response: Response): Promise<ApiError> {
  let code = `HTTP_${response.status}`;
  let message = response.statusText || code;
  let details: Record<string, string | number> | undefined;
  try {
    const body = (await response.json()) as { code?: string; message?: string; error?: string; details?: Record<string, string | number> };
    code = body.code ?? code;
    message = body.message ?? body.error ?? message;
    details = body.details;
  } catch {
    // not JSON
  }
  // a zh-CN screen shows the catalog's Chinese for the code, not the server's English sentence
  return new ApiError(response.status, code, refusalMessage(code, message, storedLocale()), details);
}

export async function apiJson<T>(method: string, path: string, body?: unknown, query?: Query): Promise<T> {
  const response = await apiFetch(withQuery(path, query), {
    method,
    headers: body !== undefined ? { 'content-type': 'application/json', accept: 'application/json' } : { accept: 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw await errorOf(response);
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

export const api = {
  get: <T>(path: string, query?: Query) => apiJson<T>('GET', path, undefined, query),
  post: <T>(path: string, body?: unknown) => apiJson<T>('POST', path, body ?? {}),
  put: <T>(path: string, body?: unknown) => apiJson<T>('PUT', path, body ?? {}),
  patch: <T>(path: string, body?: unknown) => apiJson<T>('PATCH', path, body ?? {}),
  delete: <T>(path: string) => apiJson<T>('DELETE', path),
};

/** A binary answer (the report PDF), fetched with the token and opened from a blob URL. */
export async function openBlob(path: string): Promise<void> {
  // Open the window first, inside the click, so that pop-up blockers let it through.
  const target = window.open('', '_blank');
  const response = await apiFetch(path);
  if (!response.ok) {
    target?.close();
    throw await errorOf(response);
  }
  const url = URL.createObjectURL(await response.blob());
  if (target) target.location.href = url;
  else window.location.href = url;
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** A CSV export: fetched with the token and saved as a file. */
export async function downloadBlob(path: string, filename: string): Promise<void> {
  const response = await apiFetch(path);
  if (!response.ok) throw await errorOf(response);
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
