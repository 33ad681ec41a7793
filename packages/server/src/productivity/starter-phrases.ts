/**
 * The phrase library (常用语) every installation starts with, by group, with short triggers
 * (pinyin initials) a radiologist types in the report. Ids are stable so that a restart or a
 * second server process does not add them twice. Institutions and radiologists add their own.
 */
export interface StarterPhrase {
  id: string;
  group: string;
  trigger?: string;
  text: string;
}

export const STARTER_PHRASES: readonly StarterPhrase[] = [
  { id: 'starter-phrase-normal', group: '通用', trigger: 'wjyc', text: '未见明显异常。' },
  { id: 'starter-phrase-clinical', group: '建议', trigger: 'jhlc', text: '请结合临床。' },
  { id: 'starter-phrase-follow-up', group: '建议', trigger: 'sffc', text: '建议定期随访复查。' },
  { id: 'starter-phrase-further', group: '建议', trigger: 'jyjc', text: '建议进一步检查（增强扫描）以明确诊断。' },
  { id: 'starter-phrase-compare', group: '建议', trigger: 'dbqp', text: '建议与既往片对比。' },
  { id: 'starter-phrase-lung-clear', group: '胸部', trigger: 'fwqx', text: '双肺纹理清晰，走行自然。' },
  { id: 'starter-phrase-mediastinum', group: '胸部', trigger: 'zgjz', text: '纵隔居中，纵隔内未见明显肿大淋巴结。' },
  { id: 'starter-phrase-pleura', group: '胸部', trigger: 'xqjy', text: '双侧胸腔未见积液，胸膜未见增厚。' },
  { id: 'starter-phrase-liver', group: '腹部', trigger: 'gzzc', text: '肝脏大小、形态正常，实质密度（回声）均匀，未见明显占位。' },
  { id: 'starter-phrase-ascites', group: '腹部', trigger: 'fqjy', text: '腹腔内未见明显积液。' },
  { id: 'starter-phrase-midline', group: '头颅', trigger: 'zxjz', text: '中线结构居中，脑室系统未见扩大。' },
  { id: 'starter-phrase-bone', group: '骨骼', trigger: 'gzwj', text: '所见骨质未见明显骨折及骨质破坏。' },
];
