import net from 'node:net';
import { decodeHl7Bytes, parseHl7, type Hl7Message } from './hl7-message.ts';
import { MllpDecoder, mllpFrame } from './mllp.ts';

/**
 * Sends one message over MLLP and waits for its ACK (original mode): connects, writes the
 * frame, reads one framed answer, closes. Rejects on a refused connection, a timeout, a
 * close without an answer or an answer that is not an HL7 message.
 */
export async function sendMllp(target: { host: string; port: number }, message: string, options: { timeoutMs?: number; maxAckBytes?: number } = {}): Promise<Hl7Message> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  return new Promise<Hl7Message>((resolve, reject) => {
    const decoder = new MllpDecoder({ maxMessageBytes: options.maxAckBytes ?? 64 * 1024 });
    const socket = net.connect({ host: target.host, port: target.port });
    let settled = false;
    const finish = (error: Error | undefined, ack?: Hl7Message) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      if (error) reject(error);
      else resolve(ack!);
    };
    socket.setTimeout(timeoutMs, () => finish(new Error(`no ACK from ${target.host}:${target.port} within ${timeoutMs} ms`)));
    socket.on('error', (error) => finish(new Error(`${target.host}:${target.port}: ${error.message}`)));
    socket.on('close', () => finish(new Error(`${target.host}:${target.port} closed the connection without an ACK`)));
    socket.on('connect', () => socket.write(mllpFrame(message)));
    socket.on('data', (data: Buffer) => {
      for (const event of decoder.push(data)) {
        if (event.kind === 'error') return finish(new Error(`the answer of ${target.host}:${target.port} is not MLLP: ${event.detail}`));
        try {
          return finish(undefined, parseHl7(decodeHl7Bytes(event.bytes).text));
        } catch (error) {
          return finish(new Error(`the answer of ${target.host}:${target.port} is not an HL7 ACK: ${(error as Error).message}`));
        }
      }
    });
  });
}
