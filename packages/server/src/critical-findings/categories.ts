/**
 * The categories of imaging critical findings (影像危急值) a radiologist picks from. The
 * defaults follow the imaging items that Chinese hospitals' 危急值报告制度 lists share
 * (the 2007 患者安全目标 of 中国医院协会 and the provincial 放射科危急值 lists derived from
 * it): the migration seeds them once; an administrator replaces the list with
 * PUT /api/v1/critical-findings/categories (the hospital's own list). A finding keeps the
 * names its category had when it was flagged.
 */
export interface CriticalCategory {
  /** stable identifier, lower-case kebab (stored with each finding) */
  code: string;
  zh: string;
  en: string;
}

export const DEFAULT_CRITICAL_CATEGORIES: readonly CriticalCategory[] = [
  { code: 'intracranial-haemorrhage', zh: '急性脑出血', en: 'Acute intracranial haemorrhage' },
  { code: 'large-cerebral-infarction', zh: '急性大面积脑梗死', en: 'Acute large-territory cerebral infarction' },
  { code: 'brain-herniation', zh: '脑疝', en: 'Brain herniation' },
  { code: 'pneumothorax', zh: '气胸（肺压缩≥30%或张力性）', en: 'Pneumothorax (≥30% or tension)' },
  { code: 'aortic-dissection', zh: '主动脉夹层', en: 'Aortic dissection' },
  { code: 'aortic-aneurysm-rupture', zh: '主动脉瘤破裂', en: 'Ruptured aortic aneurysm' },
  { code: 'pulmonary-embolism', zh: '肺栓塞', en: 'Pulmonary embolism' },
  { code: 'cardiac-tamponade', zh: '大量心包积液/心包填塞', en: 'Large pericardial effusion / tamponade' },
  { code: 'gi-perforation', zh: '消化道穿孔/急性气腹', en: 'GI perforation / free intraperitoneal air' },
  { code: 'bowel-obstruction', zh: '急性肠梗阻/肠扭转/肠套叠', en: 'Acute bowel obstruction / volvulus / intussusception' },
  { code: 'solid-organ-rupture', zh: '肝脾肾等实质脏器破裂出血', en: 'Solid-organ rupture with haemorrhage' },
  { code: 'ectopic-pregnancy-rupture', zh: '宫外孕破裂出血', en: 'Ruptured ectopic pregnancy' },
  { code: 'spinal-cord-compression', zh: '脊柱骨折伴脊髓损伤', en: 'Spinal fracture with cord injury' },
  { code: 'airway-foreign-body', zh: '气管/支气管异物', en: 'Tracheal or bronchial foreign body' },
  { code: 'other', zh: '其他危急情况', en: 'Other critical finding' },
];

export const CATEGORY_CODE_PATTERN = '^[a-z0-9][a-z0-9-]{0,63}$';

/** How the township told the clinician (告知方式). */
export const INFORMED_VIA = ['phone', 'in-person', 'sms', 'other'] as const;
export type InformedVia = (typeof INFORMED_VIA)[number];
