import type { IndexStore } from '../store/index-store.ts';
import type { ShareOrigin, LiveLink } from './share-model.ts';
import type { ShareStore } from './share-store.ts';

/** What every part of cloud film records: the link's own access list, and whose patient the study is for the audit trail. */
export class ShareTrail {
  private readonly store: Pick<ShareStore, 'recordAccess'>;
  private readonly index: Pick<IndexStore, 'patientIdsOfStudies'>;

  constructor(store: Pick<ShareStore, 'recordAccess'>, index: Pick<IndexStore, 'patientIdsOfStudies'>) {
    this.store = store;
    this.index = index;
  }

  async recordAccess(live: LiveLink, action: string, origin: ShareOrigin): Promise<void> {
    await this.store.recordAccess({ link_id: live.link.id, at: new Date().toISOString(), action, remote_address: origin.remoteAddress ?? null, user_agent: origin.userAgent?.slice(0, 200) ?? null });
  }

  async patientIdOf(studyInstanceUid: string): Promise<string | undefined> {
    return (await this.index.patientIdsOfStudies([studyInstanceUid])).get(studyInstanceUid);
  }
}
