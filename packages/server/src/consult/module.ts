import { canSeeInstitution } from '../access/caller.ts';
import { serviceKey, type YunyingModule } from '../modules/module.ts';
import { E_SIGNATURE, FHIR_REPORT_SOURCES } from '../reports/module.ts';
import { ConsultationAgreements } from './consultation-agreements.ts';
import { ConsultationDocuments } from './consultation-document.ts';
import { registerConsultationRoutes } from './consultation-routes.ts';
import { ConsultationService } from './consultation-service.ts';
import { consultationStatistics } from './consultation-statistics.ts';
import { CONSULTATION_MIGRATIONS } from './consultation-store.ts';
import { REFERRAL_MDT_MIGRATIONS, REFERRAL_MDT_PERMISSIONS, registerReferralsAndMdt, type ReferralsAndMdt } from './referral-mdt.ts';

declare module '../access/permissions.ts' {
  interface ModulePermissions {
    'consult:request': true;
    'consult:answer': true;
    'consult:read': true;
    'consult:agreements': true;
    'consult:statistics': true;
    'referral:write': true;
    'referral:read': true;
    'mdt:write': true;
    'mdt:read': true;
  }
}

/** consultations, for the modules listed after consult */
export const CONSULTATIONS = serviceKey<ConsultationService>('consultations');
/** referrals and MDT sessions, for the modules listed after consult */
export const REFERRALS = serviceKey<ReferralsAndMdt>('referrals');

const REQUESTERS = ['radiologist', 'reviewing-radiologist', 'clinician'] as const;
/** the clinical people who refer patients and sit in MDT sessions */
export const CLINICAL_STAFF = ['clinician', 'radiologist', 'reviewing-radiologist', 'expert'] as const;

/**
 * Consultation (普通/疑难/急会诊), MDT sessions and two-way referral (issue 18,
 * docs/consultation.md). The conclusion is a report document like remote diagnosis's: the
 * same e-signature, PDF and FHIR DiagnosticReport.
 */
export const consultModule: YunyingModule = {
  name: 'consult',
  permissions: [
    { name: 'consult:request', zh: '申请会诊，邀请或更换专家，结束或撤销会诊', en: 'ask for a consultation, invite or replace an expert, close or cancel it', roles: [...REQUESTERS] },
    { name: 'consult:answer', zh: '接受或拒绝会诊，撰写并签署会诊意见', en: 'accept or decline a consultation, write and sign an opinion or the conclusion', roles: ['expert'] },
    { name: 'consult:read', zh: '查看会诊及会诊意见书', en: 'see consultations and their conclusions', roles: [...REQUESTERS, 'expert', 'administrator'] },
    { name: 'consult:agreements', zh: '维护会诊协议与专家排班', en: 'keep consultation agreements and duty rosters', roles: ['administrator'] },
    { name: 'consult:statistics', zh: '查看会诊与转诊统计', en: 'see consultation and referral statistics', roles: ['commission-analyst', 'qc-officer', 'administrator'] },
    ...REFERRAL_MDT_PERMISSIONS,
  ],
  migrations: { ...CONSULTATION_MIGRATIONS, ...REFERRAL_MDT_MIGRATIONS },
  async register(ctx) {
    const { archive, config, services, http, callers } = ctx;
    const deps = { stores: archive.stores, access: archive.accessStore, unitOfWork: archive.unitOfWork };
    const consultations = new ConsultationService({ ...deps, archive, signatures: services.get(E_SIGNATURE), slaMinutes: config.consultSlaMinutes });
    const agreements = new ConsultationAgreements(deps);
    const documents = new ConsultationDocuments({ consultations, index: archive.index, access: archive.accessStore, audit: archive.audit, timeZone: config.timeZone });
    services.get(FHIR_REPORT_SOURCES).join((reports) => documents.joinedTo(reports));
    services.provide(CONSULTATIONS, consultations);
    const referrals = await registerReferralsAndMdt(ctx);
    services.provide(REFERRALS, referrals);
    const statistics = (caller: Parameters<typeof canSeeInstitution>[0], period: { from?: string; to?: string }) =>
      consultationStatistics({ stores: archive.stores, access: archive.accessStore, referralPairs: (p) => referrals.referralPairs(p), timeZone: config.timeZone }, period, (institutionId) => canSeeInstitution(caller, institutionId));
    await registerConsultationRoutes(http, { consultations, agreements, documents, statistics, resolveCaller: callers.rest });
  },
};

