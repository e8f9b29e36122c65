import { context, propagation, trace, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter as JsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtobufTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { z } from 'zod';
import { nonNegativeInt } from '../config/load-config.js';

/** The OTLP encodings over HTTP the apps export in (`grpc` would need a second transport stack for one option). */
export const OTLP_PROTOCOLS = ['http/protobuf', 'http/json'] as const;

/**
 * The standard OpenTelemetry variables the apps read, validated and documented with the rest of the configuration.
 * Tracing is on exactly when an endpoint is set. Others the SDK reads itself still apply (`OTEL_TRACES_SAMPLER`,
 * `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_RESOURCE_ATTRIBUTES`, the other `OTEL_BSP_*`).
 */
export const TracingConfigShape = {
  OTEL_EXPORTER_OTLP_ENDPOINT: z
    .url()
    .optional()
    .describe(
      'traces go by OTLP/HTTP to `<this>/v1/traces` (e.g. `http://otel-collector:4318`); unset (and no traces endpoint) = tracing off, at no cost',
    ),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z
    .url()
    .optional()
    .describe('the full URL traces are posted to, over `OTEL_EXPORTER_OTLP_ENDPOINT`'),
  OTEL_EXPORTER_OTLP_PROTOCOL: z
    .enum(OTLP_PROTOCOLS)
    .default('http/protobuf')
    .describe('`http/protobuf` or `http/json` (gRPC is not built in: point an OpenTelemetry Collector at 4318)'),
  OTEL_SERVICE_NAME: z
    .string()
    .min(1)
    .optional()
    .describe('the service name on every span')
    .meta({ shownDefault: '`telemetryhub-hub` / `telemetryhub-task-processor`' }),
  OTEL_BSP_SCHEDULE_DELAY: nonNegativeInt(5000).describe('how long finished spans wait to be exported in a batch (ms)'),
};

export type TracingConfig = z.output<z.ZodObject<typeof TracingConfigShape>>;

/** The name of the instrumentation scope every span of ours is made by. */
export const TRACER_NAME = 'telemetryhub';

/**
 * The tracer to make spans with. Before startTracing (or with tracing off) it is OpenTelemetry's no-op tracer: a
 * span is a shared object that records nothing, so per-batch spans cost nothing measurable; per-reading work is
 * guarded by `Tracing.enabled` instead.
 */
export function tracer(): Tracer {
  return trace.getTracer(TRACER_NAME);
}

export interface Tracing {
  /** True when spans are recorded and exported. */
  readonly enabled: boolean;
  /** Exports what is left (at shutdown, after the last span ended). */
  shutdown(): Promise<void>;
}

const OFF: Tracing = { enabled: false, shutdown: async () => {} };

/**
 * Starts tracing when an OTLP endpoint is configured: a tracer provider with a batch exporter and the W3C trace
 * context propagator, registered globally, as OpenTelemetry expects; call once per process. `asyncContext`
 * also tracks the active span across async calls (AsyncLocalStorage), so a span started deep inside another's
 * work, and the logger's `trace_id`, find their parent without being handed it. It costs every promise of the
 * process a little: a process that passes its contexts explicitly (the hub) goes without.
 */
export function startTracing(
  config: TracingConfig,
  service: { name: string; version: string; asyncContext: boolean },
): Tracing {
  const endpoint = config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? tracesUrl(config.OTEL_EXPORTER_OTLP_ENDPOINT);
  if (!endpoint) return OFF;
  const Exporter = config.OTEL_EXPORTER_OTLP_PROTOCOL === 'http/json' ? JsonTraceExporter : ProtobufTraceExporter;
  const resource = resourceFromAttributes({
    'service.name': config.OTEL_SERVICE_NAME ?? service.name,
    'service.version': service.version,
  }).merge(detectResources({ detectors: [envDetector] }));
  const provider = new BasicTracerProvider({
    resource,
    spanProcessors: [
      new BatchSpanProcessor(new Exporter({ url: endpoint, timeoutMillis: 10_000 }), {
        scheduledDelayMillis: config.OTEL_BSP_SCHEDULE_DELAY,
      }),
    ],
  });
  if (service.asyncContext) context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  return {
    enabled: true,
    async shutdown() {
      await provider.shutdown();
      trace.disable();
      propagation.disable();
      context.disable();
    },
  };
}

/** The signal path under a base endpoint, as the OTLP exporter specification builds it. */
function tracesUrl(base: string | undefined): string | undefined {
  if (!base) return undefined;
  return `${base.replace(/\/+$/, '')}/v1/traces`;
}
