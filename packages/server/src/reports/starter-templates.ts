import type { ReportTemplateRow } from '../store/reading-store.ts';

type StarterTemplate = Pick<ReportTemplateRow, 'id' | 'modality' | 'body_part' | 'name' | 'findings' | 'impression'>;

/**
 * The report templates every installation starts with (normal findings, as radiologists
 * write them in county hospitals); institutions add their own. Ids are stable so that a
 * restart or a second server process does not add them twice.
 */
export const STARTER_TEMPLATES: readonly StarterTemplate[] = [
  {
    id: 'starter-ct-head-normal',
    modality: 'CT',
    body_part: 'HEAD',
    name: '头颅CT平扫（正常）',
    findings: '脑实质内未见明显异常密度影，灰白质分界清楚。脑室系统大小、形态未见异常，脑沟、脑裂、脑池未见增宽，中线结构居中。颅骨骨质未见明显异常。',
    impression: '头颅CT平扫未见明显异常。',
  },
  {
    id: 'starter-ct-head-infarct',
    modality: 'CT',
    body_part: 'HEAD',
    name: '头颅CT平扫（腔隙性脑梗死）',
    findings: '双侧基底节区可见多发斑点状低密度影，边界清楚，最大者直径约 mm。脑室系统未见扩大，中线结构居中。',
    impression: '双侧基底节区多发腔隙性脑梗死，建议结合临床。',
  },
  {
    id: 'starter-ct-chest-normal',
    modality: 'CT',
    body_part: 'CHEST',
    name: '胸部CT平扫（正常）',
    findings: '胸廓对称，气管及各叶段支气管通畅。双肺纹理清晰，肺实质内未见明显异常密度影。纵隔居中，纵隔内未见明显肿大淋巴结。心脏大小、形态未见异常。双侧胸膜未见增厚，胸腔内未见积液。',
    impression: '胸部CT平扫未见明显异常。',
  },
  {
    id: 'starter-ct-chest-nodule',
    modality: 'CT',
    body_part: 'CHEST',
    name: '胸部CT平扫（肺结节）',
    findings: '右肺上叶可见一类圆形结节影，大小约 mm× mm，边界清楚，密度均匀。余肺野未见明显异常。纵隔内未见肿大淋巴结，双侧胸腔未见积液。',
    impression: '右肺上叶结节，建议3-6个月后复查胸部CT。',
  },
  {
    id: 'starter-ct-abdomen-normal',
    modality: 'CT',
    body_part: 'ABDOMEN',
    name: '上腹部CT平扫（正常）',
    findings: '肝脏大小、形态正常，肝实质密度均匀，未见明显异常密度影，肝内外胆管未见扩张。胆囊不大，壁不厚，腔内未见异常密度影。胰腺、脾脏大小形态未见异常。双肾形态、密度未见异常。腹膜后未见肿大淋巴结，腹腔内未见积液。',
    impression: '上腹部CT平扫未见明显异常。',
  },
  {
    id: 'starter-dr-chest-normal',
    modality: 'DX',
    body_part: 'CHEST',
    name: '胸部正位片（正常）',
    findings: '胸廓对称，双肺纹理清晰，走行自然，双肺野内未见明显实变影。双肺门不大，纵隔居中。心影大小、形态未见异常。双侧膈面光整，肋膈角锐利。',
    impression: '心、肺、膈未见明显异常。',
  },
  {
    id: 'starter-dr-chest-pneumonia',
    modality: 'DX',
    body_part: 'CHEST',
    name: '胸部正位片（肺炎）',
    findings: '右下肺野可见斑片状模糊影，边界不清。余肺野未见明显异常。心影大小正常，双侧肋膈角锐利。',
    impression: '右下肺炎症，建议治疗后复查。',
  },
  {
    id: 'starter-dr-limb-normal',
    modality: 'DX',
    body_part: 'EXTREMITY',
    name: '四肢X线片（正常）',
    findings: '所摄骨骨质结构完整，骨皮质连续，未见明显骨折线及骨质破坏。关节间隙正常，关节面光整。周围软组织未见明显肿胀。',
    impression: '所摄部位骨质未见明显异常。',
  },
  {
    id: 'starter-dr-limb-fracture',
    modality: 'DX',
    body_part: 'EXTREMITY',
    name: '四肢X线片（骨折）',
    findings: '桡骨远端可见透亮骨折线，断端轻度移位，周围软组织肿胀。余所摄骨质未见明显异常。',
    impression: '桡骨远端骨折，请结合临床。',
  },
];
