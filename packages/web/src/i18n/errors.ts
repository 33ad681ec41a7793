/**
 * The server's refusals in the user's language. An answer's `message` is the throw site's
 * English sentence (for logs and API users); its `code` names an entry of the server's error
 * catalog, which says what the code means in 简体中文 — that is what a zh-CN screen shows.
 * The catalog is plain data (no server code comes along), so it is imported, not copied.
 */
import { ERROR_CATALOG } from '../../../server/src/errors/catalog.ts';
import type { Locale } from './i18n.tsx';

/** The text to show for an answer with this code; English keeps the server's own sentence. */
export function refusalMessage(code: string, serverMessage: string, locale: Locale): string {
  if (locale !== 'zh-CN' || !Object.hasOwn(ERROR_CATALOG, code)) return serverMessage;
  return (ERROR_CATALOG as Record<string, { zh: string }>)[code]!.zh;
}
