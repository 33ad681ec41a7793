import type { Kysely } from 'kysely';
import { serviceKey, type YunyingModule } from '../modules/module.ts';
import { REPORT_DOCUMENTS } from '../reports/module.ts';
import { SHARES } from '../share/module.ts';
import { DEFAULT_CRITICAL_CATEGORIES } from './categories.ts';
import { registerCriticalFindingRoutes } from './critical-finding-routes.ts';
import { CriticalFindingService } from './critical-finding-service.ts';
import { criticalFindingStore, type CriticalFindingTables } from './critical-finding-store.ts';
import { startEscalationSweep } from './escalation-sweep.ts';

declare module '../access/permissions.ts' {
  interface ModulePermissions {
    'critical:flag': true;
    'critical:acknowledge': true;
    'critical:read': true;
  }
}

export const CRITICAL_FINDINGS = serviceKey<CriticalFindingService>('critical-findings');

/**
 * 危急值 (critical findings, issue 14 item 5): flagged by the reading centre's radiologist,
 * alerted to the requesting institution at once (live banner, SMS), acknowledged there,
 * escalated when nobody does, printed on the report. docs/critical-findings.md.
 */
export const criticalFindingsModule: YunyingModule = {
  name: 'critical-findings',
  permissions: [
    { name: 'critical:flag', zh: '阅片时上报危急值', en: 'flag a critical finding (危急值) while reading', roles: ['radiologist', 'reviewing-radiologist', 'expert'] },
    { name: 'critical:acknowledge', zh: '确认接收本机构的危急值并记录告知临床方式', en: 'acknowledge a critical finding for the own institution and record how the clinician was told', roles: ['technologist', 'clinician'] },
    { name: 'critical:read', zh: '查看本机构的危急值及其确认记录', en: 'see the critical findings of the own institution and their acknowledgements', roles: ['technologist', 'radiologist', 'reviewing-radiologist', 'expert', 'clinician', 'qc-officer', 'administrator'] },
  ],
  migrations: {
    '0015-critical-findings': {
      async up(untyped: Kysely<unknown>) {
        const db = untyped as unknown as Kysely<CriticalFindingTables>;
        await db.schema
          .createTable('critical_findings')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('request_id', 'text', (c) => c.notNull())
          .addColumn('study_instance_uid', 'text', (c) => c.notNull())
          .addColumn('requesting_institution_id', 'text', (c) => c.notNull())
          .addColumn('reading_institution_id', 'text', (c) => c.notNull())
          .addColumn('category', 'text', (c) => c.notNull())
          .addColumn('category_zh', 'text', (c) => c.notNull())
          .addColumn('category_en', 'text', (c) => c.notNull())
          .addColumn('note', 'text', (c) => c.notNull())
          .addColumn('flagged_by', 'text', (c) => c.notNull())
          .addColumn('flagged_by_name', 'text')
          .addColumn('flagged_at', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('sms_status', 'text')
          .addColumn('escalations', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('last_alerted_at', 'text', (c) => c.notNull())
          .addColumn('escalated_at', 'text')
          .addColumn('acknowledged_by', 'text')
          .addColumn('received_by', 'text')
          .addColumn('informed_via', 'text')
          .addColumn('clinician_name', 'text')
          .addColumn('informed_at', 'text')
          .addColumn('acknowledged_at', 'text')
          .addColumn('ack_note', 'text')
          .execute();
        await db.schema.createIndex('critical_findings_request').on('critical_findings').column('request_id').execute();
        await db.schema.createIndex('critical_findings_requesting').on('critical_findings').columns(['requesting_institution_id', 'flagged_at']).execute();
        await db.schema.createIndex('critical_findings_reading').on('critical_findings').columns(['reading_institution_id', 'flagged_at']).execute();
        // the sweep's question: open ones, oldest alert first
        await db.schema.createIndex('critical_findings_open').on('critical_findings').columns(['status', 'last_alerted_at']).execute();
        await db.schema
          .createTable('critical_finding_categories')
          .addColumn('code', 'text', (c) => c.primaryKey())
          .addColumn('zh', 'text', (c) => c.notNull())
          .addColumn('en', 'text', (c) => c.notNull())
          .addColumn('position', 'integer', (c) => c.notNull())
          .execute();
        await db.insertInto('critical_finding_categories').values(DEFAULT_CRITICAL_CATEGORIES.map((category, position) => ({ ...category, position }))).execute();
        await db.schema
          .createTable('critical_finding_contacts')
          .addColumn('institution_id', 'text', (c) => c.primaryKey())
          .addColumn('phone', 'text', (c) => c.notNull())
          .addColumn('updated_by', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();
      },
    },
  },
  async register({ http, archive, config, logger, callers, services, onClose }) {
    const service = new CriticalFindingService(
      {
        store: archive.stores.open(criticalFindingStore),
        opener: criticalFindingStore,
        unitOfWork: archive.unitOfWork,
        audit: archive.audit,
        requests: archive.stores.reading,
        index: archive.index,
        access: archive.accessStore,
        // the platform's one SMS interface, the one cloud film sends its links with
        sms: services.get(SHARES).sms,
        logger,
      },
      { escalateAfterMs: config.critical.escalateMinutes * 60_000, maxEscalations: config.critical.maxEscalations },
    );
    services.provide(CRITICAL_FINDINGS, service);
    // The report's PDF (and its other documents) carry the request's 危急值 and their acknowledgements.
    services.get(REPORT_DOCUMENTS).addSupplement(async (request) => {
      const criticalFindings = await service.forReportDocument(request.id);
      return criticalFindings.length > 0 ? { criticalFindings } : {};
    });
    await registerCriticalFindingRoutes(http, { service, resolveCaller: callers.rest });
    const sweeper = startEscalationSweep(service, logger);
    onClose(async () => {
      sweeper.stop();
      await sweeper.idle();
    });
  },
};
