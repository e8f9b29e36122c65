import type { Context } from '@opentelemetry/api';

/**
 * Where a reading came into the hub, for tracing: the context of the span that took it (an HTTP request, an MQTT
 * message) and when it entered the buffer. One object per intake call, shared by its readings, so a task that
 * merges many requests links each once.
 */
export interface TraceOrigin {
  context: Context;
  bufferedAt: number;
}
