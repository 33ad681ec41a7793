/**
 * The national resident ID (居民身份证号, GB 11643-1999): 6 digits of address code, 8 of
 * birth date (YYYYMMDD), 3 of sequence (odd for men, even for women) and a check character,
 * ISO 7064 MOD 11-2 over the first 17: Σ digit × weight, mod 11, mapped through "10X98765432".
 * Only an ID whose check character and birth date are right ever links two records: a typo
 * that links two people is worse than no link.
 */

const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2] as const;
const CHECK_CHARACTERS = '10X98765432';

/** The check character of the first 17 digits. */
export function residentIdCheckCharacter(first17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(first17[i]) * WEIGHTS[i]!;
  return CHECK_CHARACTERS[sum % 11]!;
}

/** The ID in its one canonical form (upper-case X, no spaces), or undefined when it is no valid resident ID. */
export function normalizeResidentId(value: string | null | undefined): string | undefined {
  if (!value) return undefined;
  const id = value.trim().toUpperCase();
  if (!/^\d{17}[\dX]$/.test(id)) return undefined;
  if (!isPlausibleBirthDate(id.slice(6, 14))) return undefined;
  return residentIdCheckCharacter(id) === id[17] ? id : undefined;
}

export function isValidResidentId(value: string | null | undefined): boolean {
  return normalizeResidentId(value) !== undefined;
}

/** "3201**********1234": the first four and the last four characters, as screens and exports show it. */
export function maskResidentId(id: string): string {
  return `${id.slice(0, 4)}${'*'.repeat(id.length - 8)}${id.slice(-4)}`;
}

/** The birth date the ID holds (YYYYMMDD). */
export function birthDateOfResidentId(id: string): string {
  return id.slice(6, 14);
}

/** 'M' or 'F' from the sequence's last digit (odd: male). */
export function sexOfResidentId(id: string): 'M' | 'F' {
  return Number(id[16]) % 2 === 1 ? 'M' : 'F';
}

function isPlausibleBirthDate(yyyymmdd: string): boolean {
  const year = Number(yyyymmdd.slice(0, 4));
  const month = Number(yyyymmdd.slice(4, 6));
  const day = Number(yyyymmdd.slice(6, 8));
  if (year < 1880 || month < 1 || month > 12 || day < 1) return false;
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCMonth() === month - 1 && date.getUTCDate() === day && date.getTime() <= Date.now();
}
