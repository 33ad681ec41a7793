/**
 * DICOM coded values shown to people: Body Part Examined (0018,0015) defined terms and
 * Patient's Sex (0010,0040), in the UI's language. An unknown code is shown as it is (it is
 * then a value the modality wrote, not ours to guess).
 */
import { useI18n, type Locale } from './i18n.tsx';

const BODY_PARTS: Record<string, { 'zh-CN': string; en: string }> = {
  HEAD: { 'zh-CN': '头颅', en: 'Head' },
  BRAIN: { 'zh-CN': '脑', en: 'Brain' },
  SKULL: { 'zh-CN': '颅骨', en: 'Skull' },
  NECK: { 'zh-CN': '颈部', en: 'Neck' },
  HEADNECK: { 'zh-CN': '头颈部', en: 'Head and neck' },
  CHEST: { 'zh-CN': '胸部', en: 'Chest' },
  LUNG: { 'zh-CN': '肺', en: 'Lung' },
  HEART: { 'zh-CN': '心脏', en: 'Heart' },
  BREAST: { 'zh-CN': '乳腺', en: 'Breast' },
  ABDOMEN: { 'zh-CN': '腹部', en: 'Abdomen' },
  CHESTABDOMEN: { 'zh-CN': '胸腹部', en: 'Chest and abdomen' },
  ABDOMENPELVIS: { 'zh-CN': '腹盆腔', en: 'Abdomen and pelvis' },
  LIVER: { 'zh-CN': '肝脏', en: 'Liver' },
  KIDNEY: { 'zh-CN': '肾脏', en: 'Kidney' },
  PELVIS: { 'zh-CN': '盆腔', en: 'Pelvis' },
  SPINE: { 'zh-CN': '脊柱', en: 'Spine' },
  CSPINE: { 'zh-CN': '颈椎', en: 'Cervical spine' },
  TSPINE: { 'zh-CN': '胸椎', en: 'Thoracic spine' },
  LSPINE: { 'zh-CN': '腰椎', en: 'Lumbar spine' },
  SSPINE: { 'zh-CN': '骶椎', en: 'Sacral spine' },
  EXTREMITY: { 'zh-CN': '四肢', en: 'Extremity' },
  SHOULDER: { 'zh-CN': '肩关节', en: 'Shoulder' },
  ELBOW: { 'zh-CN': '肘关节', en: 'Elbow' },
  HAND: { 'zh-CN': '手', en: 'Hand' },
  WRIST: { 'zh-CN': '腕关节', en: 'Wrist' },
  HIP: { 'zh-CN': '髋关节', en: 'Hip' },
  KNEE: { 'zh-CN': '膝关节', en: 'Knee' },
  ANKLE: { 'zh-CN': '踝关节', en: 'Ankle' },
  FOOT: { 'zh-CN': '足', en: 'Foot' },
  WHOLEBODY: { 'zh-CN': '全身', en: 'Whole body' },
};

const SEXES: Record<string, { 'zh-CN': string; en: string }> = {
  M: { 'zh-CN': '男', en: 'M' },
  F: { 'zh-CN': '女', en: 'F' },
  O: { 'zh-CN': '其他', en: 'O' },
};

/** "CHEST" → 胸部 / Chest; DICOM writes some terms with a space or underscore (HEAD NECK). */
export function bodyPartLabel(code: string | null | undefined, locale: Locale): string {
  if (!code) return '';
  const known = BODY_PARTS[code.trim().toUpperCase().replace(/[\s_-]/g, '')];
  return known ? known[locale] : code;
}

export function bodyPartsLabel(codes: readonly string[], locale: Locale): string {
  return codes.map((code) => bodyPartLabel(code, locale)).join(locale === 'zh-CN' ? '、' : ', ');
}

/** Patient's Sex M/F/O → 男/女/其他 (English keeps the letters). */
export function sexLabel(code: string | null | undefined, locale: Locale): string {
  if (!code) return '';
  return SEXES[code.trim().toUpperCase()]?.[locale] ?? code;
}

/** The code labels in the current language, for screens. */
export function useCodeLabels(): { bodyParts(codes: readonly string[]): string; sex(code: string | null | undefined): string } {
  const { locale } = useI18n();
  return { bodyParts: (codes) => bodyPartsLabel(codes, locale), sex: (code) => sexLabel(code, locale) };
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
