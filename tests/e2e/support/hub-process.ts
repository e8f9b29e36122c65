import { freePort } from '@telemetryhub/testkit';
import { startAppProcess, waitReady } from '../../../scripts/local-pipeline.js';

/** A real hub process (as `npm run hub` runs it) on a free port, ready; `env` on top of the test's own. */
export async function startHubProcess(redisUrl: string, queue: string, env: Record<string, string>) {
  const port = await freePort();
  const hub = startAppProcess('hub', {
    ...process.env,
    REDIS_URL: redisUrl,
    QUEUE_NAME: queue,
    HUB_PORT: String(port),
    LOG_LEVEL: 'warn',
    ...env,
  });
  const url = `http://127.0.0.1:${port}`;
  await waitReady(url, hub, 'hub', 60_000);
  return { hub, url };
}
