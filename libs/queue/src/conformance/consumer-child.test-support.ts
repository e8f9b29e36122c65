/**
 * A consumer in a process of its own, for the conformance suite's process cases:
 *   tsx consumer-child.test-support.ts <driver> <redis-url> <queue> <lease-ms> <batch> [hold|graceful] [shards]
 * Fetches one batch, prints the ids it holds as one JSON line, then keeps its lease alive (heartbeat) while it
 * "works" on the batch. `hold` (default) never settles anything: it is there to be killed. `graceful` is a worker
 * shutting down as the processor does on SIGTERM: it fetches nothing more, finishes (acks) the batch in hand,
 * closes the driver and exits 0 (3 if an ack settled less than it held).
 */
import { driverUnderTest } from './drivers.test-support.js';
import type { QueueDriverName } from '../driver.js';
import { rawText } from '../task.js';

const [driver, url, queue, leaseMs, batch, mode = 'hold', shards = '1'] = process.argv.slice(2) as [
  QueueDriverName,
  string,
  string,
  string,
  string,
  string?,
  string?,
];
const d = driverUnderTest(driver, url, Number(shards));
const consumer = d.consumer(queue, { leaseMs: Number(leaseMs) });
consumer.startHeartbeat();
const raws: string[] = [];
while (raws.length === 0) for (const t of await consumer.fetch(Number(batch), 500)) raws.push(rawText(t.raw));
const working = setInterval(() => {}, 60_000);
if (mode === 'graceful') {
  process.once('SIGTERM', () => {
    void (async () => {
      await new Promise((r) => setTimeout(r, 200)); // the rest of the batch's work
      const settled = await consumer.ack(raws);
      consumer.stopHeartbeat();
      await d.close();
      clearInterval(working);
      process.exitCode = settled === raws.length ? 0 : 3;
    })();
  });
}
const held = raws.map((raw) => (JSON.parse(raw) as { id: string }).id);
process.stdout.write(`${JSON.stringify({ held })}\n`);
