import type { AuditRecorder } from '../access/audit-event.ts';
import type { Notifier } from '../events/notifier.ts';
import { ReportService, type SignedReportDelivery } from '../reports/report-service.ts';
import type { AccessStore } from '../store/access-store.ts';
import type { IndexStore } from '../store/index-store.ts';
import type { ReadingStore } from '../store/reading-store.ts';
import type { UnitOfWork } from '../store/unit-of-work.ts';
import { RequestService } from './request-service.ts';
import { RoutingService } from './routing-service.ts';
import type { SlaMinutes } from './sla.ts';
import { WorklistService } from './worklist-service.ts';

export interface ReadingOptions {
  sla: SlaMinutes | (() => Promise<SlaMinutes>);
  /** a study whose last instance is this old counts as complete */
  stableSeconds: number;
  /** IANA time zone of routing rules' time windows */
  timeZone: string;
}

export interface ReadingDependencies {
  store: ReadingStore;
  access: AccessStore;
  index: IndexStore;
  audit: AuditRecorder;
  notifier: Notifier;
  /** each change with its audit record and feed row in one transaction (archive.unitOfWork) */
  unitOfWork: UnitOfWork;
  delivery?: SignedReportDelivery;
  /** the reports module's service (reports/module.ts); one over the same store when absent (tests) */
  reports?: ReportService;
}

/** Remote diagnosis (远程诊断): requests, the worklist, routing, and the reports written for them. */
export interface ReadingServices {
  requests: RequestService;
  worklist: WorklistService;
  routing: RoutingService;
  reports: ReportService;
}

/** The reading services over one store, wired to each other. */
export function createReadingServices(deps: ReadingDependencies, options: ReadingOptions): ReadingServices {
  const reports = deps.reports ?? new ReportService({ store: deps.store, audit: deps.audit, notifier: deps.notifier, unitOfWork: deps.unitOfWork, delivery: deps.delivery, timeZone: options.timeZone });
  const requests = new RequestService({ store: deps.store, access: deps.access, index: deps.index, audit: deps.audit, notifier: deps.notifier, unitOfWork: deps.unitOfWork, reports }, { sla: options.sla, stableSeconds: options.stableSeconds });
  const worklist = new WorklistService({ store: deps.store, audit: deps.audit, notifier: deps.notifier, unitOfWork: deps.unitOfWork, requests });
  const routing = new RoutingService({ store: deps.store, access: deps.access, audit: deps.audit, requests }, { timeZone: options.timeZone });
  return { requests, worklist, routing, reports };
}
