import { ROOT_CONTEXT, context, propagation, trace, type Context, type Link, type Span } from '@opentelemetry/api';

/** W3C Trace Context as it travels in a task envelope or HTTP headers. */
export interface TraceCarrier {
  traceparent?: string;
  tracestate?: string;
}

/** The context a carrier continues (the root context when it carries none, or tracing is off). */
export function contextFrom(carrier: TraceCarrier | Record<string, unknown>): Context {
  return propagation.extract(ROOT_CONTEXT, carrier);
}

/** The carrier of a span, to hand to the next hop (empty when tracing is off: a no-op span has no valid id). */
export function carrierOf(span: Span): TraceCarrier {
  const carrier: TraceCarrier = {};
  propagation.inject(trace.setSpan(ROOT_CONTEXT, span), carrier);
  return carrier;
}

/** Links to the spans of these contexts (those that carry one), at most `max`: a batch links what it merged. */
export function linksTo(contexts: Iterable<Context>, max = 128): Link[] {
  const links: Link[] = [];
  for (const ctx of contexts) {
    const span = trace.getSpanContext(ctx);
    if (span && trace.isSpanContextValid(span)) links.push({ context: span });
    if (links.length >= max) break;
  }
  return links;
}

/** The trace id in a W3C `traceparent`, for log lines (readable whether or not this process traces). */
export function traceIdOf(traceparent: string | undefined): string | undefined {
  return traceparent?.slice(3, 35);
}

/** The trace and span ids of the active span, for log lines; empty outside any span or with tracing off. */
export function activeTraceFields(): { trace_id?: string; span_id?: string } {
  const span = trace.getSpanContext(context.active());
  if (!span || !trace.isSpanContextValid(span)) return {};
  return { trace_id: span.traceId, span_id: span.spanId };
}
