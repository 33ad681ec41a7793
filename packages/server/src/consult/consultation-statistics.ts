import type { AccessStore } from '../store/access-store.ts';
import type { StoreOpener } from '../store/store-opener.ts';
import { consultationStore, type ConsultationRow, type ConsultationTables } from './consultation-store.ts';
import type { ReferralPairCount } from './referral-mdt.ts';

export interface DurationSummary {
  count: number;
  meanMinutes: number | null;
  medianMinutes: number | null;
  p90Minutes: number | null;
  /** the share of these within the consultation's SLA (request to signed conclusion) */
  slaMetRate: number | null;
}

export interface ConsultationStatistics {
  byType: Array<{ type: string; count: number }>;
  byInstitution: Array<{ institutionId: string; name: string | null; count: number }>;
  byMonth: Array<{ month: string; count: number }>;
  firstOpinion: DurationSummary;
  conclusion: DurationSummary;
  /** the single consultation with the shortest time from request to signed conclusion */
  fastestCase: { consultationId: string; minutes: number; institutionId: string; name: string | null } | null;
  /** the expert institution with the lowest mean time from request to signed conclusion */
  fastestInstitutionMean: { institutionId: string; name: string | null; meanMinutes: number; count: number } | null;
  referrals: ReferralPairCount[];
}

export interface StatisticsDependencies {
  stores: { open<T>(opener: StoreOpener<T, ConsultationTables>): T };
  access: Pick<AccessStore, 'findInstitution'>;
  referralPairs: (period: { from: string; to: string }) => Promise<ReferralPairCount[]>;
  /** IANA zone of the calendar months (config.timeZone) */
  timeZone: string;
}

/**
 * Consultations by type, requesting institution and month; the time to the first signed opinion
 * and to the signed conclusion (mean, median, p90, SLA met); the fastest case and the fastest
 * institution mean, which the Hanyin county paper reports apart (32.6 min against a mean under
 * 1.5 h); referrals by institution pair.
 */
/** `visible` keeps the consultations and referrals of the institutions the caller's scope reaches (a commission: its region). */
export async function consultationStatistics(deps: StatisticsDependencies, period: { from?: string; to?: string }, visible: (institutionId: string) => boolean): Promise<ConsultationStatistics> {
  const from = period.from ? new Date(period.from).toISOString() : '0000-01-01T00:00:00.000Z';
  const to = period.to ? new Date(period.to).toISOString() : '9999-12-31T23:59:59.999Z';
  const rows = (await deps.stores.open(consultationStore).createdBetween(from, to)).filter((row) => visible(row.requesting_institution_id) || visible(row.expert_institution_id));
  const name = async (id: string) => (await deps.access.findInstitution(id))?.name ?? null;
  const month = new Intl.DateTimeFormat('en-CA', { timeZone: deps.timeZone, year: 'numeric', month: '2-digit' });
  const toConclusion = rows.filter((row) => row.answered_at !== null);
  const fastest = [...toConclusion].sort((a, b) => minutesTo(a, a.answered_at!) - minutesTo(b, b.answered_at!))[0];
  const means = [...groupBy(toConclusion, (row) => row.expert_institution_id)].map(([institutionId, group]) => ({ institutionId, count: group.length, meanMinutes: mean(group.map((row) => minutesTo(row, row.answered_at!))) }));
  const fastestMean = means.sort((a, b) => a.meanMinutes - b.meanMinutes)[0];
  return {
    byType: counts(rows, (row) => row.type).map(([type, count]) => ({ type, count })),
    byInstitution: await Promise.all(counts(rows, (row) => row.requesting_institution_id).map(async ([institutionId, count]) => ({ institutionId, name: await name(institutionId), count }))),
    byMonth: counts(rows, (row) => month.format(new Date(row.created_at)).slice(0, 7))
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([key, count]) => ({ month: key, count })),
    firstOpinion: summary(rows.filter((row) => row.first_opinion_at !== null), (row) => row.first_opinion_at!),
    conclusion: summary(toConclusion, (row) => row.answered_at!),
    fastestCase: fastest ? { consultationId: fastest.id, minutes: round(minutesTo(fastest, fastest.answered_at!)), institutionId: fastest.expert_institution_id, name: await name(fastest.expert_institution_id) } : null,
    fastestInstitutionMean: fastestMean ? { institutionId: fastestMean.institutionId, name: await name(fastestMean.institutionId), meanMinutes: round(fastestMean.meanMinutes), count: fastestMean.count } : null,
    referrals: (await deps.referralPairs({ from, to })).filter((pair) => visible(pair.fromInstitutionId) || visible(pair.toInstitutionId)),
  };
}

function minutesTo(row: ConsultationRow, at: string): number {
  return (Date.parse(at) - Date.parse(row.created_at)) / 60_000;
}

function summary(rows: readonly ConsultationRow[], endOf: (row: ConsultationRow) => string): DurationSummary {
  if (rows.length === 0) return { count: 0, meanMinutes: null, medianMinutes: null, p90Minutes: null, slaMetRate: null };
  const minutes = rows.map((row) => minutesTo(row, endOf(row))).sort((a, b) => a - b);
  const met = rows.filter((row) => minutesTo(row, endOf(row)) <= row.sla_minutes).length;
  return { count: rows.length, meanMinutes: round(mean(minutes)), medianMinutes: round(percentile(minutes, 0.5)), p90Minutes: round(percentile(minutes, 0.9)), slaMetRate: Math.round((met / rows.length) * 1000) / 1000 };
}

/** nearest-rank percentile of sorted values */
function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]!;
}

const mean = (values: readonly number[]): number => values.reduce((sum, value) => sum + value, 0) / values.length;
const round = (minutes: number): number => Math.round(minutes * 10) / 10;

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item]);
  return groups;
}

function counts<T>(items: readonly T[], key: (item: T) => string): Array<[string, number]> {
  return [...groupBy(items, key)].map(([name, group]) => [name, group.length] as [string, number]).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}
