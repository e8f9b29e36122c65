import { SpanKind, SpanStatusCode, ROOT_CONTEXT, type Span } from '@opentelemetry/api';
import { carrierOf, linksTo, tracer, type TraceCarrier } from '@telemetryhub/service-kit';
import type { TraceOrigin } from '../buffer/trace-origin.js';

/**
 * The spans of one task as the hub builds it: a `buffer wait` for each intake that contributed readings (from the
 * moment they were buffered until now, under that intake's span), and the task's `publish` span — a child of the
 * first intake's span and linked to the others, since one task merges readings of many requests. The envelope
 * carries the publish span's context on to the processor.
 */
export function startPublishSpan(
  origins: ReadonlyArray<TraceOrigin | undefined>,
  queue: string,
  readings: number,
): { span: Span; carrier: TraceCarrier } {
  const distinct = [...new Set(origins.filter((o): o is TraceOrigin => o !== undefined))];
  const now = Date.now();
  for (const origin of distinct) {
    tracer().startSpan('buffer wait', { startTime: origin.bufferedAt }, origin.context).end(now);
  }
  const span = tracer().startSpan(
    `publish ${queue}`,
    {
      kind: SpanKind.PRODUCER,
      attributes: {
        'messaging.system': 'redis',
        'messaging.operation.type': 'send',
        'messaging.destination.name': queue,
        'telemetryhub.readings': readings,
        'telemetryhub.intakes': distinct.length,
      },
      links: linksTo(distinct.slice(1).map((o) => o.context)),
    },
    distinct[0]?.context ?? ROOT_CONTEXT,
  );
  return { span, carrier: carrierOf(span) };
}

/** Ends a task's publish span: durable in Redis, on the spool's disk, or lost (an error, with why). */
export function endPublishSpan(span: Span | undefined, outcome: 'published' | 'spooled' | { lost: string }): void {
  if (!span) return;
  if (typeof outcome === 'object') span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.lost });
  else span.setAttribute('telemetryhub.outcome', outcome);
  span.end();
}
