import net from 'node:net';
import type { Logger } from 'pino';
import { MllpDecoder, mllpFrame } from './mllp.ts';

export interface MllpHandler {
  /** the ACK (text) of one framed message; must not throw */
  handle(bytes: Buffer, remoteAddress?: string): Promise<string>;
  /** the ACK sent before closing a connection whose data is not MLLP or too large */
  frameRejection(text: string): string;
}

export interface MllpListener {
  port: number;
  close(): Promise<void>;
}

/**
 * The MLLP server: a TCP listener whose connections carry framed HL7 messages, each answered
 * with its ACK in order (one message at a time per connection, as MLLP's original mode
 * expects). A connection that sends what is not MLLP, or a message over the bound, gets an
 * AR and is closed; an idle one is closed after `idleMs`.
 */
export async function startMllpListener(options: { host: string; port: number; maxMessageBytes: number; handler: MllpHandler; logger: Logger; idleMs?: number }): Promise<MllpListener> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    serveConnection(socket, options);
  });
  server.maxConnections = 256;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (error) => options.logger.error({ err: error }, 'hl7: listener error'));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : options.port,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

function serveConnection(socket: net.Socket, options: { maxMessageBytes: number; handler: MllpHandler; logger: Logger; idleMs?: number }): void {
  const decoder = new MllpDecoder({ maxMessageBytes: options.maxMessageBytes });
  const remoteAddress = socket.remoteAddress;
  // One message at a time: the ACKs go out in the order the messages came.
  let queue: Promise<void> = Promise.resolve();
  socket.setTimeout(options.idleMs ?? 5 * 60_000, () => socket.destroy());
  socket.on('error', () => socket.destroy());
  socket.on('data', (data: Buffer) => {
    for (const event of decoder.push(data)) {
      if (event.kind === 'message') {
        queue = queue.then(async () => {
          const ack = await options.handler.handle(event.bytes, remoteAddress).catch((error: unknown) => {
            options.logger.error({ err: error }, 'hl7: handler failed');
            return options.handler.frameRejection('application internal error');
          });
          if (!socket.destroyed) socket.write(mllpFrame(ack));
        });
      } else {
        const ack = options.handler.frameRejection(event.detail);
        socket.pause();
        // after the messages before it are answered
        queue = queue.then(() => new Promise<void>((resolve) => socket.end(mllpFrame(ack), () => resolve())));
      }
    }
  });
}
