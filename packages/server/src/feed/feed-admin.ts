import type { ChangeFeedStore } from '../store/change-feed-store.ts';

/**
 * The change feed as the console shows it (`yunying feed status`): each consumer group's
 * cursor, lag, lease and failures, then every dead letter with its last error, so that an
 * operator can fix the cause and put it back in line (`yunying feed requeue GROUP SEQ`).
 */
export async function feedStatusLines(store: ChangeFeedStore): Promise<string[]> {
  const [cursors, failures, latest] = await Promise.all([store.cursors(), store.failures(), store.latestSeq()]);
  const lines = [`newest change: ${latest}`];
  for (const cursor of cursors) {
    const mine = failures.filter((failure) => failure.group === cursor.group);
    const lease = cursor.leaseOwner ? `lease ${cursor.leaseOwner} until ${cursor.leaseUntil}` : 'no lease';
    lines.push(`${cursor.group}\tcursor ${cursor.lastSeq}\tlag ${Math.max(0, latest - cursor.lastSeq)}\t${lease}\tretrying ${mine.filter((failure) => failure.status === 'retrying').length}\tdead ${mine.filter((failure) => failure.status === 'dead').length}`);
  }
  const dead = failures.filter((failure) => failure.status === 'dead');
  if (dead.length > 0) lines.push('dead letters:');
  const changes = new Map((await store.readSeqs(dead.map((failure) => failure.seq))).map((change) => [change.seq, change]));
  for (const failure of dead) {
    const change = changes.get(failure.seq);
    const what = change ? `${change.type} ${change.resourceType} ${change.resourceId}` : '(change purged)';
    lines.push(`  ${failure.group}\tseq ${failure.seq}\t${what}\tattempts ${failure.attempts}\tsince ${failure.firstFailedAt}\t${failure.lastError.replace(/\s+/g, ' ')}`);
  }
  return lines;
}
