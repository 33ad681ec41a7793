import { residentIdCheckCharacter } from '../recognition/resident-id.ts';

/** A valid resident ID (居民身份证号) from its first 17 digits: their GB 11643 check character appended. */
export function residentId(first17: string): string {
  return first17 + residentIdCheckCharacter(first17);
}
