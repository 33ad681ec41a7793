/**
 * The audit CSV is read by people: occurred_at is the wall-clock time of the deployment's zone
 * with its offset, and every row names the zone and keeps the stored UTC instant (which the
 * hash chain covers); NDJSON keeps the stored ISO instants for machines.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AuditRow } from '../store/audit-store.ts';
import { auditExportLines } from './audit-export.ts';
import type { AuditTrail } from './audit-trail.ts';

const ROW: AuditRow = {
  seq: 1,
  // 14:15:04 UTC is 22:15:04 in Shanghai; 16:30 UTC on 31 December is already 1 January there
  occurred_at: '2026-12-03T14:15:04.123Z',
  action: 'study.viewed',
  outcome: 'success',
  actor_kind: 'user',
  actor_name: 'zhao',
  actor_role: 'radiologist',
  actor_institution_id: 'KS-C',
  remote_address: '127.0.0.1',
  via: 'rest',
  object_type: 'study',
  object_id: '1.2.3',
  patient_id: 'P1',
  details: '{}',
  prev_hash: '0'.repeat(64),
  hash: 'a'.repeat(64),
};
const NEW_YEAR: AuditRow = { ...ROW, seq: 2, occurred_at: '2026-12-31T16:30:00.000Z' };

/** A trail of two records, paged as AuditTrail.search pages (afterSeq). */
const trail = { search: async ({ afterSeq = 0 }: { afterSeq?: number }) => [ROW, NEW_YEAR].filter((row) => row.seq > afterSeq) } as unknown as AuditTrail;

async function exported(options: Parameters<typeof auditExportLines>[1]): Promise<string[]> {
  const lines: string[] = [];
  for await (const line of auditExportLines(trail, options)) lines.push(line.replace(/\n$/, ''));
  return lines;
}

describe('audit export times', () => {
  test('CSV: occurred_at in the configured zone with its offset, the zone named, the stored instant kept', async () => {
    const [header, first, second] = await exported({ format: 'csv', timeZone: 'Asia/Shanghai' });
    const columns = header!.split(',');
    assert.match(header!, /^seq,occurred_at,action/);
    assert.deepEqual(columns.slice(-2), ['time_zone', 'occurred_at_utc']);
    const cell = (line: string, name: string) => line.split(',')[columns.indexOf(name)];
    assert.equal(cell(first!, 'occurred_at'), '2026-12-03 22:15:04 +08:00');
    assert.equal(cell(first!, 'time_zone'), 'Asia/Shanghai');
    assert.equal(cell(first!, 'occurred_at_utc'), '2026-12-03T14:15:04.123Z');
    assert.equal(cell(second!, 'occurred_at'), '2027-01-01 00:30:00 +08:00', 'the local date, not the UTC one');
  });

  test('CSV with chosen columns and a zone; without a zone (the CLI) the stored ISO instants in UTC and the record’s columns only', async () => {
    const [header, first] = await exported({ format: 'csv', columns: ['seq', 'occurred_at', 'action'], timeZone: 'UTC' });
    assert.equal(header, 'seq,occurred_at,action,time_zone,occurred_at_utc');
    assert.equal(first, '1,2026-12-03 14:15:04 +00:00,study.viewed,UTC,2026-12-03T14:15:04.123Z');
    const [plainHeader, plain] = await exported({ format: 'csv', columns: ['seq', 'occurred_at', 'action'] });
    assert.equal(plainHeader, 'seq,occurred_at,action');
    assert.equal(plain, '1,2026-12-03T14:15:04.123Z,study.viewed');
  });

  test('NDJSON keeps the stored ISO instant', async () => {
    const [first] = await exported({ format: 'ndjson', timeZone: 'Asia/Shanghai' });
    assert.equal((JSON.parse(first!) as { occurred_at: string }).occurred_at, '2026-12-03T14:15:04.123Z');
  });
});
