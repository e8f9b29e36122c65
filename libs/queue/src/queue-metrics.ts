import { Gauge, type Registry } from 'prom-client';
import type { QueueDepths } from './task.js';
import type { QueueStats } from './driver-factory.js';

/**
 * Queue depth and age gauges, read from Redis at scrape time (prom-client `collect`), one round of reads per
 * scrape shared by all of them. The values are global (every replica reports the same queue): dashboards and
 * alerts use `max`, not `sum`. `stats` reads them for either driver (createQueueStats).
 */
export function registerQueueMetrics(registry: Registry, stats: Pick<QueueStats, 'depths'>, queue: string): void {
  let cached: { at: number; value: Promise<QueueDepths | null> } | undefined;
  const read = () => {
    const now = Date.now();
    if (!cached || now - cached.at > 500) {
      cached = { at: now, value: stats.depths(now).catch(() => null) };
    }
    return cached.value;
  };
  new Gauge({
    name: 'telemetryhub_queue_depth',
    help: 'Tasks in the queue, by state (pending, processing, delayed, failed).',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      const d = await read();
      if (!d) return;
      for (const state of ['pending', 'processing', 'delayed', 'failed'] as const) this.set({ queue, state }, d[state]);
    },
  });
  new Gauge({
    name: 'telemetryhub_queue_oldest_task_age_seconds',
    help: 'Age of the oldest pending task by its created_at (0 when the queue is empty): the autoscaling signal.',
    labelNames: ['queue'],
    registers: [registry],
    async collect() {
      const d = await read();
      if (d) this.set({ queue }, d.oldestPendingAgeSeconds ?? 0);
    },
  });
  new Gauge({
    name: 'telemetryhub_queue_consumers',
    help: 'Consumers holding a lease on the queue.',
    labelNames: ['queue'],
    registers: [registry],
    async collect() {
      const d = await read();
      if (d) this.set({ queue }, d.consumers);
    },
  });
}
