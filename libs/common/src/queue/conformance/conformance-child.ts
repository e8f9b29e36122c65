/**
 * A consumer in a process of its own, for the conformance suite's crash cases:
 *   tsx conformance-child.ts <driver> <redis-url> <queue> <lease-ms> <batch>
 * Fetches one batch, prints the ids it holds as one JSON line, then keeps its lease alive (heartbeat) without
 * ever settling anything, until it is killed.
 */
import { driverUnderTest } from './drivers.js';
import type { QueueDriverName } from '../driver.js';

const [driver, url, queue, leaseMs, batch] = process.argv.slice(2) as [QueueDriverName, string, string, string, string];
const d = driverUnderTest(driver, url);
const consumer = d.consumer(queue, { leaseMs: Number(leaseMs) });
consumer.startHeartbeat();
const held: string[] = [];
while (held.length === 0) {
  for (const t of await consumer.fetch(Number(batch), 500)) held.push((JSON.parse(t.raw) as { id: string }).id);
}
process.stdout.write(`${JSON.stringify({ held })}\n`);
setInterval(() => {}, 60_000);
