/**
 * Two-way referral (双向转诊) and MDT sessions (docs/consultation.md): the permissions, the
 * migrations and the routes consult/module.ts registers. (Skeleton: filled in by the referral
 * and MDT work.)
 */
import type { MigrationSet, ModuleContext, PermissionDeclaration } from '../modules/module.ts';

export const REFERRAL_MDT_PERMISSIONS: readonly PermissionDeclaration[] = [];

/** migration 0030-referrals-mdt */
export const REFERRAL_MDT_MIGRATIONS: MigrationSet = {};

export interface ReferralPairCount {
  fromInstitutionId: string;
  fromName: string;
  toInstitutionId: string;
  toName: string;
  direction: 'up' | 'down';
  count: number;
}

export interface ReferralsAndMdt {
  /** referrals up and down by institution pair, created within [from, to) */
  referralPairs(period: { from?: string; to?: string }): Promise<ReferralPairCount[]>;
}

export async function registerReferralsAndMdt(_ctx: ModuleContext): Promise<ReferralsAndMdt> {
  return { referralPairs: async () => [] };
}
