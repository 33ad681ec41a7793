import type { IndexStore } from '../store/index-store.ts';
import type { ShareOrigin, LiveLink } from './share-model.ts';
import type { ShareStore } from '../store/share-store.ts';

/** What every part of cloud film records: the link's own access list, and whose patient the study is for the audit trail. */
export class ShareTrail {
  private readonly store: Pick<ShareStore, 'recordAccess'>;
  private readonly index: Pick<IndexStore, 'patientIdsOfStudies'>;

  constructor(store: Pick<ShareStore, 'recordAccess'>, index: Pick<IndexStore, 'patientIdsOfStudies'>) {
    this.store = store;
    this.index = index;
  }

  /** `store`: the share store of a unit of work, to record the access with the change it is part of. */
  async recordAccess(live: LiveLink, action: string, origin: ShareOrigin, store: Pick<ShareStore, 'recordAccess'> = this.store): Promise<void> {
    await store.recordAccess({ link_id: live.link.id, at: new Date().toISOString(), action, remote_address: origin.remoteAddress ?? null, user_agent: origin.userAgent?.slice(0, 200) ?? null });
  }

  async patientIdOf(studyInstanceUid: string): Promise<string | undefined> {
    return (await this.index.patientIdsOfStudies([studyInstanceUid])).get(studyInstanceUid);
  }
}
