/**
 * The resident ID (居民身份证号, GB 11643-1999) as the search form checks it before asking:
 * 18 characters, the last the ISO 7064 MOD 11-2 check character of the first 17. The server
 * is the authority (it also checks the birth date); this only says "typo" early.
 */
const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2] as const;
const CHECK_CHARACTERS = '10X98765432';

/** The ID upper-cased and trimmed when its form and check character are right, else undefined. */
export function checkedResidentId(value: string): string | undefined {
  const id = value.trim().toUpperCase();
  if (!/^\d{17}[\dX]$/.test(id)) return undefined;
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(id[i]) * WEIGHTS[i]!;
  return CHECK_CHARACTERS[sum % 11] === id[17] ? id : undefined;
}
