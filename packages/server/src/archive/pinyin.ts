/**
 * Pinyin forms of person names, for fuzzy PN matching (QIDO-RS fuzzymatching=true): the
 * useful fuzziness in a Chinese archive is between hanzi and their romanisation, so
 * "zhang*" finds 张^三 and "张三" finds "Zhang^San". pinyin-pro does the conversion (its
 * dictionary knows surname readings: 单 as a surname is SHAN, 曾 ZENG); a hand-made table
 * would get polyphonic characters wrong.
 */
import { pinyin } from 'pinyin-pro';

const HAN = /\p{Script=Han}/u;

export function hasHanzi(text: string): boolean {
  return HAN.test(text);
}

/**
 * Upper-case toneless pinyin of the Han characters, every other character kept as it is
 * (component separators "^", spaces, LIKE wildcards and their "!" escapes): "张^三" →
 * "ZHANG^SAN". ü is written V, as most Chinese systems romanise it ("吕" → "LV"); a name
 * typed with Ü is read the same way.
 */
export function toPinyin(text: string): string {
  const converted = hasHanzi(text) ? pinyin(text, { toneType: 'none', separator: '', surname: 'head', nonZh: 'consecutive', v: true }) : text;
  return converted.toUpperCase().replace(/Ü/g, 'V');
}

/**
 * "|FORM|FORM|…|": the pinyin forms a name is fuzzily matched in, for each component group:
 * its pinyin with "^", without it, with a space for it, and without spaces; the pinyin of a
 * hanzi group also with U for V ("LU^BU" for 吕^布, as many write it). Null for no name.
 */
export function personNamePinyinText(name: string | null | undefined): string | null {
  if (!name) return null;
  const forms = new Set<string>();
  for (const group of name.split('=')) {
    const trimmed = group.replace(/\^+$/, '').trim();
    if (!trimmed) continue;
    const converted = toPinyin(trimmed);
    const variants = hasHanzi(trimmed) && converted.includes('V') ? [converted, converted.replace(/V/g, 'U')] : [converted];
    for (const variant of variants) {
      forms.add(variant);
      forms.add(variant.replace(/\^/g, ''));
      forms.add(variant.replace(/\^/g, ' '));
      forms.add(variant.replace(/[\^ ]/g, ''));
    }
  }
  forms.delete('');
  return forms.size > 0 ? `|${[...forms].join('|')}|` : null;
}

/**
 * The LIKE pattern that finds a PN key (already an upper-cased LIKE pattern) among the pinyin
 * forms: its hanzi in pinyin, its ends pinned to a "|" unless they are open. Looser than the
 * literal match on purpose: an inner "%" may span two forms.
 */
export function pinyinSearchPattern(pattern: string): string {
  const converted = toPinyin(pattern);
  const start = converted.startsWith('%') ? '' : '%|';
  const end = converted.endsWith('%') && !converted.endsWith('!%') ? '' : '|%';
  return `${start}${converted}${end}`;
}
