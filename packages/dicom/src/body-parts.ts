/**
 * Body Part Examined (0018,0015) defined terms (PS3.16 CID 4031 "Common Anatomic Regions",
 * the code meanings' DICOM short forms as modalities send them) with their Chinese and
 * English names, for the report PDF and the web's lists. A value outside the table is
 * shown as it came (a technologist may type 胸部 or a local term): nothing is lost.
 */
export interface BodyPartName {
  zh: string;
  en: string;
}

export type BodyPartLanguage = 'zh' | 'en';

export const BODY_PARTS: Readonly<Record<string, BodyPartName>> = {
  ABDOMEN: { zh: '腹部', en: 'Abdomen' },
  ABDOMENPELVIS: { zh: '腹盆腔', en: 'Abdomen and pelvis' },
  ANKLE: { zh: '踝关节', en: 'Ankle' },
  ARM: { zh: '上臂', en: 'Arm' },
  BREAST: { zh: '乳腺', en: 'Breast' },
  BRAIN: { zh: '颅脑', en: 'Brain' },
  CHEST: { zh: '胸部', en: 'Chest' },
  CHESTABDOMEN: { zh: '胸腹部', en: 'Chest and abdomen' },
  CHESTABDPELVIS: { zh: '胸腹盆腔', en: 'Chest, abdomen and pelvis' },
  CLAVICLE: { zh: '锁骨', en: 'Clavicle' },
  COCCYX: { zh: '尾骨', en: 'Coccyx' },
  CSPINE: { zh: '颈椎', en: 'Cervical spine' },
  ELBOW: { zh: '肘关节', en: 'Elbow' },
  EXTREMITY: { zh: '四肢', en: 'Extremity' },
  FOOT: { zh: '足', en: 'Foot' },
  HAND: { zh: '手', en: 'Hand' },
  HEAD: { zh: '头部', en: 'Head' },
  HEADNECK: { zh: '头颈部', en: 'Head and neck' },
  HEART: { zh: '心脏', en: 'Heart' },
  HIP: { zh: '髋关节', en: 'Hip' },
  JAW: { zh: '颌骨', en: 'Jaw' },
  KIDNEY: { zh: '肾脏', en: 'Kidney' },
  KNEE: { zh: '膝关节', en: 'Knee' },
  LEG: { zh: '小腿', en: 'Leg' },
  LIVER: { zh: '肝脏', en: 'Liver' },
  LSPINE: { zh: '腰椎', en: 'Lumbar spine' },
  LUNG: { zh: '肺', en: 'Lung' },
  NECK: { zh: '颈部', en: 'Neck' },
  PELVIS: { zh: '盆腔', en: 'Pelvis' },
  SHOULDER: { zh: '肩关节', en: 'Shoulder' },
  SKULL: { zh: '颅骨', en: 'Skull' },
  SPINE: { zh: '脊柱', en: 'Spine' },
  SSPINE: { zh: '骶椎', en: 'Sacral spine' },
  TSPINE: { zh: '胸椎', en: 'Thoracic spine' },
  THYROID: { zh: '甲状腺', en: 'Thyroid' },
  WHOLEBODY: { zh: '全身', en: 'Whole body' },
  WRIST: { zh: '腕关节', en: 'Wrist' },
};

/** The name of one Body Part Examined value in the language; an unknown value as it came (trimmed). */
export function bodyPartName(value: string, language: BodyPartLanguage = 'zh'): string {
  const trimmed = value.trim();
  // CS values are upper case; some modalities send "Chest" or "L-SPINE".
  const known = BODY_PARTS[trimmed.toUpperCase().replace(/[\s_-]+/g, '')];
  return known ? known[language] : trimmed;
}

/**
 * Several values named, empty ones dropped and each name once: a request listing
 * ["CHEST", "胸部"] prints 胸部 once.
 */
export function bodyPartNames(values: readonly string[], language: BodyPartLanguage = 'zh'): string[] {
  return [...new Set(values.map((value) => bodyPartName(value, language)).filter(Boolean))];
}
