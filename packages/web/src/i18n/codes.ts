/**
 * DICOM coded values shown to people: Body Part Examined (0018,0015) defined terms and
 * Patient's Sex (0010,0040), in the UI's language. An unknown code is shown as it is (it is
 * then a value the modality wrote, not ours to guess).
 */
import { bodyPartName } from '@yunying/dicom/body-parts';
import { useI18n, type Locale } from './i18n.tsx';

const SEXES: Record<string, { 'zh-CN': string; en: string }> = {
  M: { 'zh-CN': '男', en: 'M' },
  F: { 'zh-CN': '女', en: 'F' },
  O: { 'zh-CN': '其他', en: 'O' },
};

/** "CHEST" → 胸部 / Chest; DICOM writes some terms with a space, dash or underscore (HEAD NECK, L-SPINE). */
export function bodyPartLabel(code: string | null | undefined, locale: Locale): string {
  if (!code) return '';
  // One table for the PDF and the screens (@yunying/dicom/body-parts, PS3.16 CID 4031).
  return bodyPartName(code, locale === 'zh-CN' ? 'zh' : 'en');
}

export function bodyPartsLabel(codes: readonly string[], locale: Locale): string {
  return joinList(codes.map((code) => bodyPartLabel(code, locale)), locale);
}

/** Items of a list in a sentence: 胸部、腹部 / Chest, Abdomen. */
export function joinList(items: readonly string[], locale: Locale): string {
  return items.join(locale === 'zh-CN' ? '、' : ', ');
}

/** Patient's Sex M/F/O → 男/女/其他 (English keeps the letters). */
export function sexLabel(code: string | null | undefined, locale: Locale): string {
  if (!code) return '';
  return SEXES[code.trim().toUpperCase()]?.[locale] ?? code;
}

/** The code labels in the current language, for screens. */
export function useCodeLabels(): { bodyParts(codes: readonly string[]): string; sex(code: string | null | undefined): string; list(items: readonly string[]): string } {
  const { locale } = useI18n();
  return { bodyParts: (codes) => bodyPartsLabel(codes, locale), sex: (code) => sexLabel(code, locale), list: (items) => joinList(items, locale) };
}

const OUTCOMES: Record<string, { 'zh-CN': string; en: string }> = {
  success: { 'zh-CN': '成功', en: 'Success' },
  failure: { 'zh-CN': '失败', en: 'Failure' },
  denied: { 'zh-CN': '拒绝', en: 'Denied' },
};

/** An audit record's outcome (success / failure / denied) in the UI's language. */
export function outcomeLabel(code: string | null | undefined, locale: Locale): string {
  if (!code) return '';
  return OUTCOMES[code]?.[locale] ?? code;
}
