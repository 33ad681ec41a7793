import type { Logger } from 'pino';
import type { AuditRecorder } from '../access/audit-event.ts';
import type { ReportsPort } from '../reports/reports-port.ts';
import type { AccessStore } from '../store/access-store.ts';
import type { BlobStore } from '../store/blob-store.ts';
import type { IndexStore } from '../store/index-store.ts';
import { FilmMedia } from './film-media.ts';
import { PatientSession } from './patient-session.ts';
import { ShareLinks } from './share-links.ts';
import type { ShareOptions } from './share-model.ts';
import type { ShareStore } from '../store/share-store.ts';
import type { UnitOfWork } from '../store/unit-of-work.ts';
import { ShareTrail } from './share-trail.ts';
import type { SmsSender } from './sms-sender.ts';

export interface ShareDependencies {
  store: ShareStore;
  index: IndexStore;
  blobs: BlobStore;
  accessStore: AccessStore;
  /** signed reports and addenda, read through the reports module */
  reports: ReportsPort;
  audit: AuditRecorder;
  /** a link's issue or revocation with its audit record and feed row in one transaction */
  unitOfWork: UnitOfWork;
  sms: SmsSender;
  logger?: Pick<Logger, 'warn' | 'info'>;
}

/** Cloud film: links (staff and onward), the patient's session, and the media an open link shows. */
export interface ShareServices {
  links: ShareLinks;
  session: PatientSession;
  media: FilmMedia;
  /** one object shared by the three services (tests set publicBaseUrl once the port is known) */
  options: ShareOptions;
  /** the SMS sender in use (tests read what LogSmsSender recorded) */
  sms: SmsSender;
}

export function createShareServices(deps: ShareDependencies, options: ShareOptions): ShareServices {
  const trail = new ShareTrail(deps.store, deps.index);
  return {
    links: new ShareLinks({ store: deps.store, index: deps.index, accessStore: deps.accessStore, reports: deps.reports, audit: deps.audit, unitOfWork: deps.unitOfWork, sms: deps.sms, trail, logger: deps.logger }, options),
    session: new PatientSession({ store: deps.store, accessStore: deps.accessStore, audit: deps.audit, trail }, options),
    media: new FilmMedia({ store: deps.store, index: deps.index, blobs: deps.blobs, reports: deps.reports, audit: deps.audit, trail }, options),
    options,
    sms: deps.sms,
  };
}
