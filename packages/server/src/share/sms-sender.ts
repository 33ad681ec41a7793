import type { Logger } from 'pino';

/**
 * Sends a text message to a patient's phone: the cloud-film link and, when the link has one,
 * its access code. A real provider (an SMS gateway's HTTP API, an operator's SMPP service)
 * is plugged in by implementing this interface; see share/README.md.
 */
export interface SmsSender {
  send(phone: string, text: string): Promise<void>;
}

/** 138****5678: enough for support staff to recognise a number, not to call it. */
export function maskPhone(phone: string): string {
  const digits = phone.replace(/[^0-9+]/g, '');
  if (digits.length <= 4) return '*'.repeat(digits.length);
  const keepStart = Math.min(3, Math.max(0, digits.length - 7));
  return `${digits.slice(0, keepStart)}${'*'.repeat(digits.length - keepStart - 4)}${digits.slice(-4)}`;
}

/** Mainland mobile numbers (optionally +86) and other E.164 numbers. */
export function isPlausiblePhone(phone: string): boolean {
  return /^(\+?86)?1[3-9][0-9]{9}$/.test(phone) || /^\+[1-9][0-9]{7,14}$/.test(phone);
}

/**
 * The shipped sender: sends nothing and writes one line to the application log with the
 * masked number and the length of the text. Neither the text (it carries the link and the
 * access code) nor the full number ever reaches the log.
 */
export class LogSmsSender implements SmsSender {
  readonly sent: Array<{ maskedPhone: string; length: number }> = [];

  private readonly logger?: Pick<Logger, 'info'>;
  constructor(logger?: Pick<Logger, 'info'>) {
    this.logger = logger;
  }

  async send(phone: string, text: string): Promise<void> {
    const entry = { maskedPhone: maskPhone(phone), length: text.length };
    if (this.sent.length < 100) this.sent.push(entry);
    this.logger?.info({ sms: entry }, 'cloud-film SMS not sent: no SMS provider configured (LogSmsSender)');
  }
}
