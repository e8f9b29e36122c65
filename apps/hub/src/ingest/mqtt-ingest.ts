import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { connect, type IPublishPacket, type MqttClient } from 'mqtt';
import sjson from 'secure-json-parse';
import type { Logger } from 'pino';
import { briefError, contextFrom, summarizeIssues, tracer, type TraceCarrier } from '@telemetryhub/service-kit';
import { jsonTextHasNoNul, parseEvents, type ParseOptions, type Reading } from '@telemetryhub/schemas';
import type { ReadingBuffer } from '../buffer/reading-buffer.js';
import { AckTicket, NotDurableError } from '../buffer/ack-ticket.js';
import { countReadings, type HubMetrics } from '../metrics/hub-metrics.js';
import type { TraceOrigin } from '../buffer/trace-origin.js';

export interface MqttIngestOptions {
  /** `mqtt://user:pass@host:1883` (or `mqtts://`). */
  url: string;
  /** Topic filter to subscribe to, e.g. `telemetry/#`. */
  topic: string;
  qos: 0 | 1 | 2;
  /** A fixed client id with a persistent session: the broker keeps QoS 1/2 messages while the hub restarts. */
  clientId: string;
  /** MQTT 3.1.1 (4, the default) or 5, whose user properties can carry a publisher's trace context. */
  protocolVersion?: 4 | 5;
  buffer: ReadingBuffer;
  metrics: HubMetrics;
  log: Logger;
  /** Options of parseEvents (the clock-skew guard); absent = no skew check. */
  parseOptions?: ParseOptions;
  /** Timeout of one connection attempt (ms). Default 10 s. */
  connectTimeoutMs?: number;
  /**
   * ACK_MODE=durable: PUBACK only once the message's readings are in Redis or fsync'd to the spool, however long
   * that takes (the broker holds the rest meanwhile: backpressure, not a timeout); a message whose readings are
   * lost instead (evicted, a full spool, shutdown) is never acknowledged, so the broker delivers it again
   * (duplicates are dropped by event id). Absent = PUBACK once they are in the ring buffer.
   */
  durableAck?: boolean;
  /**
   * Tracing is on: each message is a `receive` span, its readings buffered with it. Over MQTT 5 it continues the
   * publisher's trace when the message carries the user properties `traceparent` (and `tracestate`), as W3C Trace
   * Context for MQTT puts them; otherwise (and always over 3.1.1, which has no message properties) it starts one.
   */
  traced?: boolean;
}

/** MQTT 5's session expiry interval that means "never" (seconds; the largest the protocol allows). */
const SESSION_NEVER_EXPIRES = 0xffffffff;

/** The trace context a publisher put in an MQTT 5 message's user properties (the first of a repeated one). */
function publisherTraceContext(packet: IPublishPacket): TraceCarrier {
  const props = packet.properties?.userProperties;
  if (!props) return {};
  const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
  const traceparent = first(props.traceparent);
  const tracestate = first(props.tracestate);
  return { ...(traceparent ? { traceparent } : {}), ...(tracestate ? { tracestate } : {}) };
}

/** Why a message was not taken (a label of telemetryhub_hub_ingest_rejected_events_total). */
export type MqttRejectReason = 'malformed' | 'invalid' | 'too_large';

/**
 * MQTT ingest: subscribes to a topic filter and takes every message (one event or a batch, any accepted shape)
 * through the same validation as HTTP. Messages are handled one at a time and acknowledged (PUBACK) only once
 * their readings are durable (ACK_MODE=durable; the publisher then flushes at once rather than lingering, since
 * the next message waits on this one) or in the ring buffer (memory), so a full buffer under the `reject` policy
 * is backpressure: the hub stops acking, the broker stops sending, nothing is dropped. A bad message is counted
 * and logged, never fatal.
 */
export class MqttIngest {
  private client: MqttClient | undefined;
  private stopping = false;
  private lastWarn = 0;

  constructor(private readonly o: MqttIngestOptions) {}

  /**
   * Connects in the background (never blocks start-up: sensors and HTTP run while the broker is away) and
   * (re)subscribes on every connect. Resolves once first subscribed; reconnects every second after a loss.
   */
  start(): Promise<void> {
    const v5 = this.o.protocolVersion === 5;
    const client = connect(this.o.url, {
      clientId: this.o.clientId,
      clean: false,
      protocolVersion: v5 ? 5 : 4,
      // MQTT 5 ends a session when the connection does unless told otherwise: keep it, as 3.1.1 keeps one.
      ...(v5 ? { properties: { sessionExpiryInterval: SESSION_NEVER_EXPIRES } } : {}),
      reconnectPeriod: 1000,
      connectTimeout: this.o.connectTimeoutMs ?? 10_000,
    });
    this.client = client;
    client.handleMessage = (packet, done) => {
      this.handle(packet).then(
        () => done(),
        (err: unknown) => {
          // Not durable: no PUBACK. The connection is dropped so that the broker delivers the message again.
          if (err instanceof NotDurableError) return this.redeliver(packet, err);
          this.o.log.error({ err: briefError(err), topic: packet.topic }, 'mqtt message handling failed');
          done();
        },
      );
    };
    client.on('error', (err) => this.warn({ err: briefError(err) }, 'mqtt connection error'));
    client.on('offline', () => this.o.metrics.mqttConnected.set(0));
    return new Promise((resolve) => {
      client.on('connect', () => {
        this.o.metrics.mqttConnected.set(1);
        client.subscribe(this.o.topic, { qos: this.o.qos }, (err) => {
          if (err) {
            this.warn({ err: briefError(err), topic: this.o.topic }, 'mqtt subscribe failed');
            return;
          }
          this.o.log.info({ topic: this.o.topic, qos: this.o.qos }, 'mqtt ingest subscribed');
          resolve();
        });
      });
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.client?.endAsync();
    this.o.metrics.mqttConnected.set(0);
  }

  private async handle(packet: IPublishPacket): Promise<void> {
    const readings = this.parse(packet);
    if (!readings) return;
    if (readings.length > this.o.buffer.capacity) {
      this.reject('too_large', 1, packet.topic, `${readings.length} readings exceed the buffer capacity`);
      return;
    }
    // Under `reject` a full buffer holds this message (and, through unacked messages, the broker) until room.
    while (this.o.buffer.policy === 'reject' && this.o.buffer.free < readings.length && !this.stopping) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const ticket = this.o.durableAck ? new AckTicket(readings.length, true) : undefined;
    const span = this.o.traced ? this.receiveSpan(packet, readings.length) : undefined;
    const origin: TraceOrigin | undefined = span && {
      context: trace.setSpan(ROOT_CONTEXT, span),
      bufferedAt: Date.now(),
    };
    this.o.buffer.add(readings, ticket, origin);
    countReadings(this.o.metrics, 'mqtt', readings.length);
    try {
      if (ticket) await ticket.done;
    } catch (err) {
      span?.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      span?.end();
    }
  }

  /**
   * A message's span: a consumer of the broker's topic, from receipt until its readings are durable; the child of
   * the publisher's span when the message carries its context (MQTT 5 user properties).
   */
  private receiveSpan(packet: IPublishPacket, readings: number) {
    return tracer().startSpan(
      `receive ${this.o.topic}`,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          'messaging.system': 'mqtt',
          'messaging.operation.type': 'receive',
          'messaging.destination.name': packet.topic,
          'telemetryhub.readings': readings,
        },
      },
      contextFrom(publisherTraceContext(packet)),
    );
  }

  /** A message whose readings were lost before they were durable: unacknowledged, redelivered by the broker. */
  private redeliver(packet: IPublishPacket, err: NotDurableError): void {
    this.o.metrics.ingestRejected.inc({ reason: `not_durable_${err.reason}` });
    this.warn({ topic: packet.topic, reason: err.reason }, 'mqtt message not durable; left unacknowledged');
    if (this.stopping) return; // its persistent session keeps it for the next start
    this.client?.end(true, () => this.client?.reconnect());
  }

  private parse(packet: IPublishPacket): Reading[] | undefined {
    let body: unknown;
    const text = packet.payload.toString('utf8');
    try {
      body = sjson.parse(text, null, { protoAction: 'error', constructorAction: 'error' });
    } catch (err) {
      this.reject('malformed', 1, packet.topic, (err as Error).message);
      return undefined;
    }
    const parsed = parseEvents(body, '', { ...this.o.parseOptions, textHasNoNul: jsonTextHasNoNul(text) });
    if (parsed.issues.length) {
      this.reject('invalid', Math.max(1, parsed.rejected.length), packet.topic, summarizeIssues(parsed.issues));
      return undefined;
    }
    return parsed.readings;
  }

  private reject(reason: MqttRejectReason, events: number, topic: string, detail: string): void {
    this.o.metrics.ingestRejected.inc({ reason: `mqtt_${reason}` }, events);
    this.warn({ topic, reason, detail }, 'mqtt message refused');
  }

  /** Warnings at most once per 10 s: a misbehaving publisher must not flood the log. */
  private warn(fields: object, msg: string): void {
    const now = Date.now();
    if (now - this.lastWarn < 10_000) return;
    this.lastWarn = now;
    this.o.log.warn(fields, msg);
  }
}
