import './thread-pool.ts';
import { buildServer } from './app.ts';
import { ConfigError, loadConfig } from './config.ts';

/** Starts the platform on the configured ports (npm start). */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      // one line per problem, no stack: the operator fixes the configuration, not the code
      for (const problem of error.message.split('\n')) console.error(`yunying: ${problem}`);
      process.exit(2);
    }
    throw error;
  }
  const server = await buildServer(config);
  await server.http.listen({ host: config.httpHost, port: config.httpPort });
  const dicomPort = await server.startDicom();
  server.logger.info({ http: `http://${config.httpHost}:${config.httpPort}`, dicom: `${config.aeTitle}@${config.dicomHost}:${dicomPort}`, dataDir: config.dataDir, node: process.version }, 'yunying started');

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    server.logger.info({ signal }, 'stopping');
    await server.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((error: unknown) => {
  console.error('yunying: failed to start:', error instanceof Error ? error.message : error);
  process.exit(1);
});
