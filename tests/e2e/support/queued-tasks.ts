import { parseEventsStrict, parseTaskEnvelope, type Reading } from '@telemetryhub/schemas';
import { createRedis } from '@telemetryhub/queue';

/** The tasks waiting in `<queue>:pending`, in the order they were pushed, each with its readings. */
export async function queuedTasks(
  redisUrl: string,
  queue: string,
): Promise<Array<{ id: string; readings: Reading[] }>> {
  const client = createRedis(redisUrl);
  try {
    const raws = await client.lrange(`${queue}:pending`, 0, -1);
    return raws.reverse().map((raw) => {
      const task = parseTaskEnvelope(raw);
      return { id: task.id, readings: parseEventsStrict(task.payload) };
    });
  } finally {
    client.disconnect();
  }
}
