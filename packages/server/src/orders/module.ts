import type { Kysely } from 'kysely';
import type { MppsHandler, WorklistHandler } from '@yunying/dimse';
import type { Caller } from '../access/caller.ts';
import type { FeedConsumer } from '../feed/change.ts';
import { CreationHooks, type ExamCreatedFacts } from '../modules/creation-hooks.ts';
import { serviceKey, type YunyingModule } from '../modules/module.ts';
import { READING } from '../reading/module.ts';
import { mppsHandler } from './mpps-scp.ts';
import type { OrderService } from './order-model.ts';
import { registerOrderRoutes } from './order-routes.ts';
import { OrderDomainService } from './order-service.ts';
import { orderStore, type OrderTables } from './order-store.ts';
import { registerServiceRequest } from './service-request.ts';
import { worklistHandler } from './worklist-scp.ts';

export type { CreateOrderInput, OrderFilter, OrderService, OrderView } from './order-model.ts';

declare module '../access/permissions.ts' {
  interface ModulePermissions {
    'orders:create': true;
    'orders:read': true;
    'orders:cancel': true;
    'orders:worklist': true;
    'orders:perform': true;
  }
}

/** The order service (order-model.ts), for the modules listed after orders (hl7/, fhir). */
export const ORDERS = serviceKey<OrderService>('orders');

/** What later modules add to an order's creation (recognition/: the patient index, duplicate-exam warnings). */
export const ORDER_CREATED = serviceKey<CreationHooks<ExamCreatedFacts>>('orders.created');

/** The DIMSE handlers of the worklist and MPPS: app.ts hands them to the SCP when it starts. */
export const ORDERS_DIMSE = serviceKey<{ worklist: WorklistHandler<Caller>; mpps: MppsHandler<Caller> }>('orders.dimse');

/**
 * An order is linked to its study (and becomes a reading request) when the study's images
 * arrive. The instances of one study come as many changes: a bounded memory of the studies
 * looked at skips the rest; linkStudy is idempotent, so a change handed over again is harmless.
 */
function linkingConsumer(orders: OrderDomainService): FeedConsumer {
  const seen = new Set<string>();
  return {
    group: 'order-linking',
    types: ['instance.stored'],
    async handle(change) {
      const studyInstanceUid = change.payload.studyInstanceUid;
      if (change.payload.outcome !== 'stored' || typeof studyInstanceUid !== 'string' || seen.has(studyInstanceUid)) return;
      await orders.linkStudy(studyInstanceUid);
      if (seen.size >= 10_000) seen.clear();
      seen.add(studyInstanceUid);
    },
  };
}

const ORDER_STAFF = ['technologist', 'clinician', 'administrator'] as const;

/**
 * Orders (检查申请/预约, issue 15 items 7 and 8) and the Modality Worklist: orders made
 * through REST, FHIR ServiceRequest or HL7 (through ORDERS), offered to the institution's
 * modalities by Modality Worklist C-FIND with the reading requests awaiting images, marked
 * by MPPS, and linked to their study (becoming a reading request) when the images arrive.
 * docs/orders.md.
 */
export const ordersModule: YunyingModule = {
  name: 'orders',
  permissions: [
    { name: 'orders:create', zh: '为本机构开检查申请（预约）', en: 'place an order (检查申请) for the own institution', roles: [...ORDER_STAFF] },
    { name: 'orders:read', zh: '查看本机构的检查申请', en: 'see the orders of the own institution', roles: [...ORDER_STAFF] },
    { name: 'orders:cancel', zh: '撤销本机构的检查申请', en: 'cancel or discontinue an order of the own institution', roles: [...ORDER_STAFF] },
    { name: 'orders:worklist', zh: '设备查询本机构的检查工作列表（Modality Worklist）', en: 'query the own institution’s modality worklist', roles: ['modality', 'gateway', 'technologist', 'administrator'] },
    { name: 'orders:perform', zh: '设备报告检查执行状态（MPPS）', en: 'report performed procedure steps (MPPS)', roles: ['modality', 'gateway', 'technologist', 'administrator'] },
  ],
  migrations: {
    '0021-orders': {
      async up(untyped: Kysely<unknown>) {
        const db = untyped as unknown as Kysely<OrderTables>;
        await db.schema
          .createTable('orders')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('institution_id', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('source', 'text', (c) => c.notNull())
          .addColumn('accession_number', 'text', (c) => c.notNull())
          .addColumn('placer_order_number', 'text')
          .addColumn('patient_id', 'text', (c) => c.notNull())
          .addColumn('issuer_of_patient_id', 'text')
          .addColumn('patient_name', 'text', (c) => c.notNull())
          .addColumn('patient_sex', 'text')
          .addColumn('patient_birth_date', 'text')
          .addColumn('national_id', 'text')
          .addColumn('procedure_id', 'text', (c) => c.notNull())
          .addColumn('procedure_description', 'text', (c) => c.notNull())
          .addColumn('procedure_code', 'text')
          .addColumn('modality', 'text', (c) => c.notNull())
          .addColumn('body_part', 'text')
          .addColumn('study_instance_uid', 'text', (c) => c.notNull())
          .addColumn('referring_physician', 'text')
          .addColumn('priority', 'text', (c) => c.notNull())
          .addColumn('reason', 'text')
          .addColumn('reading_institution_id', 'text')
          .addColumn('reading_request_id', 'text')
          .addColumn('linked_study_instance_uid', 'text')
          .addColumn('created_by', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addColumn('cancel_reason', 'text')
          .execute();
        // unique per institution: an accession number, and the HIS's order number when given
        await db.schema.createIndex('orders_accession').on('orders').columns(['institution_id', 'accession_number']).unique().execute();
        await db.schema.createIndex('orders_placer').on('orders').columns(['institution_id', 'placer_order_number']).unique().execute();
        await db.schema.createIndex('orders_study').on('orders').column('study_instance_uid').execute();
        await db.schema.createIndex('orders_patient').on('orders').columns(['institution_id', 'patient_id']).execute();
        await db.schema.createIndex('orders_request').on('orders').column('reading_request_id').execute();
        await db.schema
          .createTable('order_steps')
          .addColumn('order_id', 'text', (c) => c.notNull())
          .addColumn('step_id', 'text', (c) => c.notNull())
          .addColumn('position', 'integer', (c) => c.notNull())
          .addColumn('station_ae_title', 'text')
          .addColumn('modality', 'text', (c) => c.notNull())
          .addColumn('start_at', 'text', (c) => c.notNull())
          .addColumn('performing_physician', 'text')
          .addColumn('description', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('mpps_instance_uid', 'text')
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('order_steps_pk', ['order_id', 'step_id'])
          .execute();
        // the worklist's question: steps still to do, by start
        await db.schema.createIndex('order_steps_open').on('order_steps').columns(['status', 'start_at']).execute();
        await db.schema
          .createTable('order_mpps')
          .addColumn('sop_instance_uid', 'text', (c) => c.primaryKey())
          .addColumn('institution_id', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('order_id', 'text')
          .addColumn('step_id', 'text')
          .addColumn('reading_request_id', 'text')
          .addColumn('study_instance_uid', 'text')
          .addColumn('created_by', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addColumn('attributes_json', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('order_mpps_order').on('order_mpps').column('order_id').execute();
      },
    },
  },
  async register({ http, archive, config, logger, callers, services }) {
    const reading = services.get(READING);
    const orders = new OrderDomainService({
      store: archive.stores.open(orderStore),
      opener: orderStore,
      unitOfWork: archive.unitOfWork,
      access: archive.accessStore,
      index: archive.index,
      readingStore: archive.stores.reading,
      requests: reading.requests,
      timeZone: config.timeZone,
      logger,
    });
    services.provide(ORDERS, orders);
    services.provide(ORDERS_DIMSE, { worklist: worklistHandler({ orders, timeZone: config.timeZone, audit: archive.audit }), mpps: mppsHandler(orders) });
    const created = new CreationHooks<ExamCreatedFacts>();
    services.provide(ORDER_CREATED, created);
    await registerOrderRoutes(http, { orders, resolveCaller: callers.rest, created });
    registerServiceRequest(services, { orders, reading: archive.stores.reading, timeZone: config.timeZone });
  },
  consumers: ({ services }) => [{ ...linkingConsumer(services.get(ORDERS) as OrderDomainService), startAt: 'latest' }],
};
