/**
 * Synchronised scrolling across the viewers of a page (the current study and an opened prior,
 * or two series of one study): one Cornerstone synchronizer on STACK_NEW_IMAGE over every
 * viewport shown while the switch is on. The callback is ours: Cornerstone's own
 * imageSliceSyncCallback looks both viewports up in the target's rendering engine, and each
 * StudyViewer has its own engine. Which slice matches is slice-sync.ts's arithmetic.
 */
import { Enums as CoreEnums, type Types } from '@cornerstonejs/core';
import { SynchronizerManager, type Synchronizer } from '@cornerstonejs/tools';
import { matchingSlice, pairOffset, type SyncStackGeometry } from './slice-sync.ts';

export interface SyncMember {
  viewportId: string;
  renderingEngineId: string;
  viewport(): Types.IStackViewport | undefined;
  geometry(): SyncStackGeometry | undefined;
}

const SYNCHRONIZER_ID = 'yunying-scroll-sync';

class ScrollSync {
  private on = false;
  private readonly members = new Map<string, SyncMember>();
  /** `${source}>${target}` → mm along the target's normal */
  private readonly offsets = new Map<string, number>();
  private readonly listeners = new Set<() => void>();
  private synchronizer?: Synchronizer;

  get enabled(): boolean {
    return this.on;
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  setEnabled(on: boolean): void {
    if (on === this.on) return;
    this.on = on;
    this.offsets.clear();
    if (on) {
      this.synchronizer = SynchronizerManager.createSynchronizer(SYNCHRONIZER_ID, CoreEnums.Events.STACK_NEW_IMAGE, (_sync, source, target) => this.follow(source.viewportId, target.viewportId));
      const all = [...this.members.values()];
      for (const member of all) this.synchronizer.add({ viewportId: member.viewportId, renderingEngineId: member.renderingEngineId });
      for (const a of all) for (const b of all) if (a !== b) this.pair(a, b);
    } else {
      SynchronizerManager.destroySynchronizer(SYNCHRONIZER_ID);
      this.synchronizer = undefined;
    }
    for (const listener of this.listeners) listener();
  }

  /** A viewport shows a (new) stack: it takes part from now on, paired at the slices shown now. */
  join(member: SyncMember): void {
    this.leave(member.viewportId);
    this.members.set(member.viewportId, member);
    if (!this.on || !this.synchronizer) return;
    this.synchronizer.add({ viewportId: member.viewportId, renderingEngineId: member.renderingEngineId });
    for (const other of this.members.values()) {
      if (other === member) continue;
      this.pair(member, other);
      this.pair(other, member);
    }
  }

  leave(viewportId: string): void {
    const member = this.members.get(viewportId);
    if (!member) return;
    this.members.delete(viewportId);
    for (const key of [...this.offsets.keys()]) if (key.startsWith(`${viewportId}>`) || key.endsWith(`>${viewportId}`)) this.offsets.delete(key);
    this.synchronizer?.remove({ viewportId, renderingEngineId: member.renderingEngineId });
  }

  private pair(source: SyncMember, target: SyncMember): number | undefined {
    const s = source.geometry();
    const t = target.geometry();
    const sv = source.viewport();
    const tv = target.viewport();
    if (!s || !t || !sv || !tv) return undefined;
    const offset = pairOffset(s, sv.getCurrentImageIdIndex(), t, tv.getCurrentImageIdIndex());
    if (offset !== undefined) this.offsets.set(`${source.viewportId}>${target.viewportId}`, offset);
    return offset;
  }

  /** The target goes to the slice nearest the source's; again while the source moved on meanwhile. */
  private async follow(sourceId: string, targetId: string): Promise<void> {
    const source = this.members.get(sourceId);
    const target = this.members.get(targetId);
    if (!source || !target) return;
    const offset = this.offsets.get(`${sourceId}>${targetId}`) ?? this.pair(source, target);
    if (offset === undefined) return;
    let followed = -1;
    for (let round = 0; round < 8; round++) {
      const sv = source.viewport();
      const tv = target.viewport();
      const s = source.geometry();
      const t = target.geometry();
      if (!sv || !tv || !s || !t) return;
      const index = sv.getCurrentImageIdIndex();
      if (index === followed) return;
      followed = index;
      const match = matchingSlice(s, index, t, offset);
      if (match !== undefined && match !== tv.getCurrentImageIdIndex()) await tv.setImageIdIndex(match);
    }
  }
}

/** The page's one scroll synchronisation (its switch is in every viewer's toolbar). */
export const scrollSync = new ScrollSync();
