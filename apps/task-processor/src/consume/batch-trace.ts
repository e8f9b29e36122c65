import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, trace, type Context, type Span } from '@opentelemetry/api';
import { contextFrom, linksTo, tracer } from '@telemetryhub/service-kit';
import type { TaskHeader } from '../domain/task.js';
import type { BatchOutcome } from './delivery.js';

/** When the batch's steps before handling happened (epoch ms). */
export interface BatchTimes {
  fetchStartedAt: number;
  fetchedAt: number;
  decodeStartedAt: number;
  decodedAt: number;
}

/**
 * The spans of one fetched batch. Each task that carries a trace context gets a `queue wait` span in its own trace
 * (from when it was published until it was fetched). The batch's `process` span is a child of the first traced
 * task's publish span and links the others — one batch merges tasks of many traces — with `fetch`, `decode` and
 * one `handle` span per handler as children; a handler's own spans (the commit) nest under its `handle`.
 */
export class BatchTrace {
  private readonly span: Span;
  private readonly context: Context;

  constructor(queue: string, headers: readonly TaskHeader[], times: BatchTimes) {
    const published = headers.filter((h) => h.traceparent).map((h) => ({ h, ctx: contextFrom(h) }));
    for (const { h, ctx } of published) {
      const sent = Date.parse(h.created_at);
      tracer()
        .startSpan(
          'queue wait',
          { startTime: Math.min(sent, times.fetchedAt), attributes: { 'telemetryhub.task.id': h.id } },
          ctx,
        )
        .end(times.fetchedAt);
    }
    this.span = tracer().startSpan(
      `process ${queue}`,
      {
        kind: SpanKind.CONSUMER,
        startTime: times.fetchStartedAt,
        attributes: {
          'messaging.system': 'redis',
          'messaging.operation.type': 'process',
          'messaging.destination.name': queue,
          'messaging.batch.message_count': headers.length,
        },
        links: linksTo(published.slice(1).map((p) => p.ctx)),
      },
      published[0]?.ctx ?? ROOT_CONTEXT,
    );
    this.context = trace.setSpan(ROOT_CONTEXT, this.span);
    tracer().startSpan('fetch', { startTime: times.fetchStartedAt }, this.context).end(times.fetchedAt);
    tracer().startSpan('decode', { startTime: times.decodeStartedAt }, this.context).end(times.decodedAt);
  }

  /** Runs a handler's group under a `handle` span, active so the handler's spans and log lines nest under it. */
  async handle<T>(handler: string, tasks: number, run: () => Promise<T>): Promise<T> {
    const span = tracer().startSpan(`handle ${handler}`, { attributes: { 'telemetryhub.tasks': tasks } }, this.context);
    try {
      return await context.with(trace.setSpan(this.context, span), run);
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw err;
    } finally {
      span.end();
    }
  }

  /** Ends the batch's span with how its tasks were settled. */
  end(outcome: BatchOutcome): void {
    this.span.setAttributes({
      'telemetryhub.acked': outcome.acked,
      'telemetryhub.retried': outcome.retried,
      'telemetryhub.dead_lettered': outcome.deadLettered,
      'telemetryhub.unsettled': outcome.unsettled,
    });
    this.span.end();
  }
}
