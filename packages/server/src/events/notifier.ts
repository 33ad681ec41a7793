/** Live notifications to an institution's screens (the notification bus implements it). */
export interface Notifier {
  publish(institutionIds: string[], type: string, payload: Record<string, unknown>): Promise<void>;
}
