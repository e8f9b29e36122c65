import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { until } from './until.js';

/** A span as the receiver decoded it (ids in lower-case hex; `parentSpanId` empty for a root span). */
export interface ReceivedSpan {
  service: string;
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  links: Array<{ traceId: string; spanId: string }>;
  /** The content type it came in: `application/json` or `application/x-protobuf`. */
  encoding: string;
}

/**
 * An OTLP/HTTP trace receiver for tests: `POST /v1/traces` in either encoding OpenTelemetry exporters send —
 * JSON (`http/json`) or protobuf (`http/protobuf`, decoded here with a reader of the few fields tests look at) —
 * answering 200 with an empty export response, as a collector does. Listens on a private port.
 */
export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  /** Requests it could not decode (a test should expect none). */
  readonly errors: string[] = [];

  private readonly server: Server = createServer((req, res) => {
    void body(req).then((bytes) => {
      const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end();
        return;
      }
      try {
        const spans = type === 'application/json' ? fromJson(bytes) : fromProtobuf(bytes);
        this.spans.push(...spans.map((s) => ({ ...s, encoding: type })));
        res.writeHead(200, { 'content-type': type }).end(type === 'application/json' ? '{}' : '');
      } catch (err) {
        this.errors.push(`${type}: ${(err as Error).message}`);
        res.writeHead(400).end();
      }
    });
  });

  private constructor() {}

  static async start(): Promise<OtlpReceiver> {
    const receiver = new OtlpReceiver();
    await new Promise<void>((resolve) => receiver.server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  /** The base URL to give as OTEL_EXPORTER_OTLP_ENDPOINT. */
  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The spans of one trace. */
  trace(traceId: string): ReceivedSpan[] {
    return this.spans.filter((s) => s.traceId === traceId);
  }

  /** Waits until `done` holds over what has been received. */
  async waitFor(done: (spans: readonly ReceivedSpan[]) => boolean, timeoutMs: number, what: string): Promise<void> {
    await until(what, () => done(this.spans), timeoutMs);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function body(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

type Decoded = Omit<ReceivedSpan, 'encoding'>;

/** OTLP/JSON: the protobuf messages' JSON mapping, with trace and span ids as hex strings. */
function fromJson(bytes: Buffer): Decoded[] {
  const request = JSON.parse(bytes.toString('utf8')) as {
    resourceSpans?: Array<{
      resource?: { attributes?: Array<{ key: string; value: { stringValue?: string } }> };
      scopeSpans?: Array<{
        spans?: Array<{
          traceId: string;
          spanId: string;
          parentSpanId?: string;
          name: string;
          links?: Array<{ traceId: string; spanId: string }>;
        }>;
      }>;
    }>;
  };
  return (request.resourceSpans ?? []).flatMap((rs) => {
    const service = rs.resource?.attributes?.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
    return (rs.scopeSpans ?? []).flatMap((ss) =>
      (ss.spans ?? []).map((s) => ({
        service,
        name: s.name,
        traceId: s.traceId.toLowerCase(),
        spanId: s.spanId.toLowerCase(),
        parentSpanId: (s.parentSpanId ?? '').toLowerCase(),
        links: (s.links ?? []).map((l) => ({ traceId: l.traceId.toLowerCase(), spanId: l.spanId.toLowerCase() })),
      })),
    );
  });
}

/**
 * OTLP/protobuf: an ExportTraceServiceRequest, read field by field (opentelemetry-proto's trace/v1 and
 * common/v1 numbering) — only what tests use, so a test can decode what the SDK sends without a protobuf library.
 */
function fromProtobuf(bytes: Buffer): Decoded[] {
  const spans: Decoded[] = [];
  for (const [field, resourceSpans] of messageFields(bytes)) {
    if (field !== 1) continue; // ExportTraceServiceRequest.resource_spans
    let service = '';
    const found: Decoded[] = [];
    for (const [f, v] of messageFields(resourceSpans)) {
      if (f === 1) service = serviceName(v) ?? service; // ResourceSpans.resource
      if (f !== 2) continue; // ResourceSpans.scope_spans
      for (const [sf, span] of messageFields(v)) if (sf === 2) found.push(decodeSpan(span)); // ScopeSpans.spans
    }
    spans.push(...found.map((s) => ({ ...s, service })));
  }
  return spans;
}

function decodeSpan(bytes: Buffer): Decoded {
  const span: Decoded = { service: '', name: '', traceId: '', spanId: '', parentSpanId: '', links: [] };
  for (const [f, v] of messageFields(bytes)) {
    if (f === 1) span.traceId = v.toString('hex');
    else if (f === 2) span.spanId = v.toString('hex');
    else if (f === 4) span.parentSpanId = v.toString('hex');
    else if (f === 5) span.name = v.toString('utf8');
    else if (f === 13) {
      const link = { traceId: '', spanId: '' };
      for (const [lf, lv] of messageFields(v)) {
        if (lf === 1) link.traceId = lv.toString('hex');
        if (lf === 2) link.spanId = lv.toString('hex');
      }
      span.links.push(link);
    }
  }
  return span;
}

/** Resource.attributes → the string value of `service.name`. */
function serviceName(resource: Buffer): string | undefined {
  for (const [f, kv] of messageFields(resource)) {
    if (f !== 1) continue;
    let key = '';
    let value: string | undefined;
    for (const [kf, kv2] of messageFields(kv)) {
      if (kf === 1) key = kv2.toString('utf8');
      if (kf === 2) for (const [af, av] of messageFields(kv2)) if (af === 1) value = av.toString('utf8');
    }
    if (key === 'service.name') return value;
  }
  return undefined;
}

/**
 * The length-delimited fields of a protobuf message, as (field number, bytes); varint and fixed-width fields are
 * skipped (the fields read above are all length-delimited).
 */
function* messageFields(buf: Buffer): Generator<[number, Buffer]> {
  let pos = 0;
  const varint = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (pos >= buf.length) throw new Error('truncated varint');
      const b = buf[pos++]!;
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
    }
  };
  while (pos < buf.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) varint();
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      const len = varint();
      if (pos + len > buf.length) throw new Error('truncated field');
      yield [field, buf.subarray(pos, pos + len)];
      pos += len;
    } else throw new Error(`unsupported wire type ${wire}`);
  }
}
