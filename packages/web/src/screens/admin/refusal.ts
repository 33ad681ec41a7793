import { ApiError } from '../../api/client.ts';
import type { Translate } from '../../i18n/i18n.tsx';

export const MIN_PASSWORD_LENGTH = 8;
const PASSWORD_RULES = ['length', 'classes', 'username', 'common'] as const;

/**
 * The server's refusal in the user's language: a weak password names its rule, a wrong
 * current password says so; otherwise the answer's text (the error catalog's 简体中文 on a
 * zh-CN screen, api/client.ts).
 */
export function refusalText(t: Translate, caught: unknown): string {
  if (caught instanceof ApiError && caught.code === 'WEAK_PASSWORD') {
    const rule = PASSWORD_RULES.find((r) => r === caught.details?.rule);
    if (rule) return t(`password.weak.${rule}`, { min: caught.details?.minLength ?? MIN_PASSWORD_LENGTH });
  }
  return caught instanceof Error ? caught.message : String(caught);
}
