/**
 * Two-way referral (双向转诊) and MDT sessions (docs/consultation.md): the permissions, the
 * migrations and the routes consult/module.ts registers. The referral part is
 * referral-{store,service,routes}.ts, the MDT part mdt-{store,service,routes}.ts.
 */
import type { Kysely } from 'kysely';
import type { MigrationSet, ModuleContext, PermissionDeclaration } from '../modules/module.ts';
import { MdtService } from './mdt-service.ts';
import { registerMdtRoutes } from './mdt-routes.ts';
import { mdtStore, type MdtTables } from './mdt-store.ts';
import { ReferralService, type ReferralPairCount } from './referral-service.ts';
import { registerReferralRoutes } from './referral-routes.ts';
import { referralStore, type ReferralTables } from './referral-store.ts';

export type { ReferralPairCount } from './referral-service.ts';

/** the clinical people who refer patients and sit in MDT sessions (module.ts's CLINICAL_STAFF) */
const CLINICAL = ['clinician', 'radiologist', 'reviewing-radiologist', 'expert'] as const;

export const REFERRAL_MDT_PERMISSIONS: readonly PermissionDeclaration[] = [
  { name: 'referral:write', zh: '发起双向转诊；接收、拒绝或完成转诊', en: 'create a referral; accept, refuse or complete one', roles: [...CLINICAL] },
  { name: 'referral:read', zh: '查看转诊及转诊机构建议', en: 'see referrals and the suggested receiving institutions', roles: [...CLINICAL, 'administrator'] },
  { name: 'mdt:write', zh: '安排多学科会诊（MDT），记录会议纪要与决议', en: 'schedule an MDT session, record its minutes and decisions', roles: [...CLINICAL] },
  { name: 'mdt:read', zh: '查看多学科会诊并签到', en: 'see MDT sessions and sign in to one', roles: [...CLINICAL, 'administrator'] },
];

/** migration 0030-referrals-mdt */
export const REFERRAL_MDT_MIGRATIONS: MigrationSet = {
  '0030-referrals-mdt': {
    async up(untyped: Kysely<unknown>) {
      const db = untyped as unknown as Kysely<ReferralTables & MdtTables>;
      await db.schema
        .createTable('referrals')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('direction', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('patient_id', 'text', (c) => c.notNull())
        .addColumn('issuer_of_patient_id', 'text')
        .addColumn('patient_name', 'text')
        .addColumn('patient_sex', 'text')
        .addColumn('patient_birth_date', 'text')
        .addColumn('from_institution_id', 'text', (c) => c.notNull())
        .addColumn('to_institution_id', 'text', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('study_instance_uids', 'text', (c) => c.notNull())
        .addColumn('report_ids', 'text', (c) => c.notNull())
        .addColumn('discharge_summary', 'text')
        .addColumn('follow_up_plan', 'text')
        .addColumn('requested_by', 'text', (c) => c.notNull())
        .addColumn('requested_by_name', 'text')
        .addColumn('responded_by', 'text')
        .addColumn('response_note', 'text')
        .addColumn('outcome', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('responded_at', 'text')
        .addColumn('completed_at', 'text')
        .execute();
      await db.schema.createIndex('referrals_from').on('referrals').columns(['from_institution_id', 'created_at']).execute();
      await db.schema.createIndex('referrals_to').on('referrals').columns(['to_institution_id', 'created_at']).execute();
      await db.schema
        .createTable('mdt_sessions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('title', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('institution_id', 'text', (c) => c.notNull())
        .addColumn('organizer', 'text', (c) => c.notNull())
        .addColumn('organizer_name', 'text')
        .addColumn('scheduled_at', 'text', (c) => c.notNull())
        .addColumn('consultation_id', 'text')
        .addColumn('patient_id', 'text')
        .addColumn('issuer_of_patient_id', 'text')
        .addColumn('patient_name', 'text')
        .addColumn('study_instance_uids', 'text', (c) => c.notNull())
        .addColumn('report_ids', 'text', (c) => c.notNull())
        .addColumn('attachments', 'text', (c) => c.notNull())
        .addColumn('departments', 'text', (c) => c.notNull())
        .addColumn('minutes', 'text')
        .addColumn('decisions', 'text', (c) => c.notNull())
        .addColumn('follow_up_date', 'text')
        .addColumn('room_url', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('recorded_at', 'text')
        .execute();
      await db.schema.createIndex('mdt_sessions_institution').on('mdt_sessions').columns(['institution_id', 'scheduled_at']).execute();
      await db.schema
        .createTable('mdt_participants')
        .addColumn('session_id', 'text', (c) => c.notNull())
        .addColumn('username', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('display_name', 'text')
        .addColumn('department', 'text', (c) => c.notNull())
        .addColumn('attended_at', 'text')
        .addPrimaryKeyConstraint('mdt_participants_pk', ['session_id', 'username'])
        .execute();
      await db.schema.createIndex('mdt_participants_username').on('mdt_participants').column('username').execute();
    },
  },
};

export interface ReferralsAndMdt {
  /** referrals up and down by institution pair, created within [from, to) */
  referralPairs(period: { from?: string; to?: string }): Promise<ReferralPairCount[]>;
}

export async function registerReferralsAndMdt(ctx: ModuleContext): Promise<ReferralsAndMdt> {
  const { archive, http, callers } = ctx;
  const referrals = new ReferralService({ store: archive.stores.open(referralStore), studies: archive.index, unitOfWork: archive.unitOfWork });
  const sessions = new MdtService({ store: archive.stores.open(mdtStore), studies: archive.index, unitOfWork: archive.unitOfWork });
  await registerReferralRoutes(http, { referrals, resolveCaller: callers.rest });
  await registerMdtRoutes(http, { sessions, resolveCaller: callers.rest });
  return { referralPairs: (period) => referrals.referralPairs(period) };
}
