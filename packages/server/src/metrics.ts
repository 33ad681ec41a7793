import type { IngestOutcome } from './archive/archive-service.ts';

/** Process counters in the Prometheus text format, for /metrics. */
export function createMetrics() {
  const stored: Record<IngestOutcome, number> = { stored: 0, duplicate: 0, replaced: 0 };
  const startedAt = Date.now();
  const sections: Array<() => readonly string[]> = [];
  return {
    countStored(outcome: IngestOutcome): void {
      stored[outcome] += 1;
    },
    /** More series, rendered after the process's own (e.g. the change feed's groups, feed/change-feed.ts metricLines). */
    addSection(lines: () => readonly string[]): void {
      sections.push(lines);
    },
    render(): string {
      const lines = [
        '# HELP yunying_instances_ingested_total Instances accepted by the ingest pipeline, by outcome.',
        '# TYPE yunying_instances_ingested_total counter',
        ...Object.entries(stored).map(([outcome, count]) => `yunying_instances_ingested_total{outcome="${outcome}"} ${count}`),
        '# HELP yunying_uptime_seconds Seconds since the process started.',
        '# TYPE yunying_uptime_seconds gauge',
        `yunying_uptime_seconds ${Math.round((Date.now() - startedAt) / 1000)}`,
        ...sections.flatMap((section) => section()),
      ];
      return `${lines.join('\n')}\n`;
    },
  };
}
