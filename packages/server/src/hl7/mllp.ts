/**
 * MLLP (HL7 v2 Minimal Lower Layer Protocol, release 2): each message travels as
 * <VT> message <FS><CR>, VT = 0x0B, FS = 0x1C, CR = 0x0D.
 *
 * Hand-written rather than node-hl7-server's listener (tried and dropped): that one keeps
 * appending to one string per connection without ever emptying it, so the second message on
 * a connection is parsed together with the first; it has no bound on a message's size; it
 * decodes every connection in one fixed encoding, where MSH-18 may say GB 18030; and when a
 * message does not parse it sends no ACK at all, so the sender waits for its timeout. This
 * framer works on bytes (MSH-18 is applied per message, hl7-message.ts), bounds each message,
 * and reports what is not MLLP so the listener can answer it.
 */

export const MLLP_START = 0x0b;
export const MLLP_END = 0x1c;
export const MLLP_CR = 0x0d;

export type MllpEvent = { kind: 'message'; bytes: Buffer } | { kind: 'error'; reason: 'not-mllp' | 'too-large'; detail: string };

/** Frames a byte stream into messages; each push returns what became complete. */
export class MllpDecoder {
  private readonly maxMessageBytes: number;
  private chunks: Buffer[] = [];
  private size = 0;
  private inFrame = false;
  /** after an error the connection is unusable: the peer and we no longer agree where a message starts */
  private failed = false;

  constructor(options: { maxMessageBytes: number }) {
    this.maxMessageBytes = options.maxMessageBytes;
  }

  push(data: Buffer): MllpEvent[] {
    const events: MllpEvent[] = [];
    let offset = 0;
    while (offset < data.length && !this.failed) {
      if (!this.inFrame) {
        const byte = data[offset]!;
        offset += 1;
        if (byte === MLLP_START) {
          this.inFrame = true;
          continue;
        }
        // Line ends and blanks between frames are tolerated (some senders add them).
        if (byte === MLLP_CR || byte === 0x0a || byte === 0x20) continue;
        this.failed = true;
        events.push({ kind: 'error', reason: 'not-mllp', detail: 'data outside an MLLP frame (a message starts with 0x0B and ends with 0x1C 0x0D)' });
        break;
      }
      const end = data.indexOf(MLLP_END, offset);
      const stop = end === -1 ? data.length : end;
      this.append(data.subarray(offset, stop));
      if (this.size > this.maxMessageBytes) {
        this.failed = true;
        events.push({ kind: 'error', reason: 'too-large', detail: `the message is larger than ${this.maxMessageBytes} bytes` });
        break;
      }
      if (end === -1) break;
      // FS, then CR (a sender that omits the CR still ends the message there).
      offset = end + 1;
      if (data[offset] === MLLP_CR) offset += 1;
      events.push({ kind: 'message', bytes: Buffer.concat(this.chunks, this.size) });
      this.chunks = [];
      this.size = 0;
      this.inFrame = false;
    }
    return events;
  }

  /** true while a message has begun but not ended (the connection closed mid-message) */
  get pending(): boolean {
    return this.inFrame && this.size > 0;
  }

  private append(part: Buffer): void {
    if (part.length === 0) return;
    this.chunks.push(Buffer.from(part));
    this.size += part.length;
  }
}

/** One message in its MLLP frame. */
export function mllpFrame(message: string | Uint8Array): Buffer {
  const body = typeof message === 'string' ? Buffer.from(message, 'utf8') : Buffer.from(message);
  return Buffer.concat([Buffer.of(MLLP_START), body, Buffer.of(MLLP_END, MLLP_CR)]);
}
