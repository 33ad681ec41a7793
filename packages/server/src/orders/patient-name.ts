import { pinyin } from 'pinyin-pro';

/**
 * Chinese compound surnames (复姓): the family name is their two characters, not the first
 * one. The common ones; a rarer one is split after its first character, which only changes
 * where the modality's display puts the caret.
 */
const COMPOUND_SURNAMES = ['欧阳', '司马', '诸葛', '上官', '东方', '皇甫', '尉迟', '公孙', '慕容', '长孙', '宇文', '司徒', '夏侯', '轩辕', '令狐', '端木', '西门', '南宫', '独孤', '百里', '呼延', '申屠', '太史', '万俟', '澹台', '闻人', '赫连', '钟离', '宗政', '濮阳', '淳于', '单于', '公冶', '太叔', '仲孙', '司空', '第五'];

const HAN = /\p{Script=Han}/u;

/**
 * An order's patient name as DICOM PN. A name given with component groups ('Zhang^San',
 * 'Zhang^San=张^三') is kept as given. A name in hanzi only ('张三', as a HIS sends it) becomes
 * 'ZHANG^SAN=张^三': the ideographic group split into family and given name, and an
 * alphabetic group in pinyin (pinyin-pro, with surname readings: 单 as Shan, 曾 as Zeng),
 * since many township modalities show Latin characters only.
 */
export function orderPatientName(name: string): string {
  const trimmed = name.trim();
  if (/[=^]/.test(trimmed) || !HAN.test(trimmed)) return trimmed;
  const compact = trimmed.replace(/\s+/g, '');
  const familyLength = COMPOUND_SURNAMES.some((surname) => compact.startsWith(surname)) && compact.length > 2 ? 2 : 1;
  const family = compact.slice(0, familyLength);
  const given = compact.slice(familyLength);
  const syllables = pinyin(compact, { toneType: 'none', type: 'array', surname: 'head', nonZh: 'consecutive' });
  const familySyllables = syllables.slice(0, familyLength).join('');
  const givenSyllables = syllables.slice(familyLength).join('');
  const alphabetic = given ? `${familySyllables}^${givenSyllables}` : familySyllables;
  return `${alphabetic.toUpperCase()}=${given ? `${family}^${given}` : family}`;
}
