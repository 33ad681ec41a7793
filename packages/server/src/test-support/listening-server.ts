import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildServer, type YunyingServer } from '../app.ts';
import { loadConfig } from '../config.ts';
import { TEST_ADMIN_PASSWORD, TEST_PASSWORD_HASH_COST_LOG2 } from './admin-auth.ts';

export interface ListeningServer {
  server: YunyingServer;
  dataDir: string;
  baseUrl: string;
  httpPort: number;
  dicomPort: number;
  /** resolves once the change feed's consumers (routing, SR delivery, …) have handled every change so far */
  feedHandled(): Promise<void>;
  /** closes the server and removes its data */
  close(): Promise<void>;
}

/**
 * The whole platform in this process on ephemeral loopback ports (HTTP and DIMSE), with a
 * data directory of its own and user admin with TEST_ADMIN_PASSWORD; `env` adds to or overrides the defaults (fsync off for speed).
 */
export async function startListeningServer(env: Record<string, string> = {}): Promise<ListeningServer> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-test-'));
  const server = await buildServer(loadConfig({ YUNYING_DATA_DIR: dataDir, YUNYING_DICOM_PORT: '0', YUNYING_LOG_LEVEL: 'silent', YUNYING_FSYNC: 'false', YUNYING_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD, YUNYING_PASSWORD_HASH_COST_LOG2: TEST_PASSWORD_HASH_COST_LOG2, ...env }));
  await server.http.listen({ host: '127.0.0.1', port: 0 });
  const address = server.http.server.address();
  const httpPort = typeof address === 'object' && address ? address.port : 0;
  const dicomPort = await server.startDicom();
  return {
    server,
    dataDir,
    baseUrl: `http://127.0.0.1:${httpPort}`,
    httpPort,
    dicomPort,
    async feedHandled() {
      await server.feed.caughtUp(await server.archive.stores.changeFeed.latestSeq());
    },
    async close() {
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
