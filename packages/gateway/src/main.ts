import { GatewayConfigError, loadGatewayConfig } from './config.ts';
import { startGateway } from './gateway.ts';

/** `npx yunying-gateway`: starts the edge gateway on the configured ports. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadGatewayConfig();
  } catch (error) {
    if (error instanceof GatewayConfigError) {
      console.error(`yunying-gateway: ${error.message}`);
      process.exit(2);
    }
    throw error;
  }
  const gateway = await startGateway(config);
  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    gateway.logger.info({ signal }, 'stopping');
    await gateway.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((error: unknown) => {
  console.error('yunying-gateway: failed to start:', error instanceof Error ? error.message : error);
  process.exit(1);
});
