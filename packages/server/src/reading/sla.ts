/** Reading priorities and their SLA allowances (time from images complete to a signed report). */
export const PRIORITIES = ['emergency', 'urgent', 'routine'] as const;
export type Priority = (typeof PRIORITIES)[number];

export interface SlaMinutes {
  emergency: number;
  urgent: number;
  routine: number;
}

export const DEFAULT_SLA_MINUTES: SlaMinutes = { emergency: 30, urgent: 60, routine: 120 };

export function isPriority(value: string): value is Priority {
  return (PRIORITIES as readonly string[]).includes(value);
}

export function dueAt(imagesCompleteAt: string, priority: Priority, sla: SlaMinutes): string {
  return new Date(Date.parse(imagesCompleteAt) + sla[priority] * 60_000).toISOString();
}

/** Seconds left until the deadline (negative once overdue); undefined without a deadline. */
export function remainingSeconds(due: string | null, now: number): number | undefined {
  return due ? Math.round((Date.parse(due) - now) / 1000) : undefined;
}
