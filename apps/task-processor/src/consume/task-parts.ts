import { eventsOf, parseTaskEnvelope, uuidV5 } from '@telemetryhub/schemas';
import { rawText, type DeadLetterReason, type DeadLetterRecord, type RawTask } from '@telemetryhub/queue';
import type { TaskHeader } from '../domain/task.js';

/** One event of a task that cannot be stored: its index in the task's payload, and why. */
export interface FailedEvent {
  index: number;
  reason: Extract<DeadLetterReason, 'invalid_payload' | 'poison'>;
  message: string;
}

/** A failed event's DLQ record, and the device its event names (as sent), for the line that logs it. */
export interface FailedPart {
  record: Omit<DeadLetterRecord, 'consumer'>;
  deviceId: string | undefined;
}

/**
 * The DLQ records of a task's failed events, each a task of its own: the same type, priority and creation time,
 * carrying only that event exactly as the producer sent it (not as decoded: a replay upcasts and pseudonymises it
 * again, once). Its id is derived from the task's id and the event's index, so finding the same failure again
 * writes the same bytes. Several failures of one event (a gateway sample's readings) make one record.
 */
export function failedParts(
  raw: RawTask,
  header: TaskHeader,
  failed: readonly FailedEvent[],
  attempt: { attempts: number; firstFailedAt: string; lastFailedAt: string },
): FailedPart[] {
  // Read again here (not kept from decoding, which ran in another thread): this path is rare, decoding is not.
  const events = eventsOf(parseTaskEnvelope(rawText(raw)).payload);
  const byEvent = new Map<number, FailedEvent[]>();
  for (const f of failed) byEvent.set(f.index, [...(byEvent.get(f.index) ?? []), f]);
  return [...byEvent].map(([index, fs]) => {
    const id = uuidV5(`part\u0000${header.id}\u0000${index}`);
    const part = {
      id,
      type: header.type,
      priority: header.priority,
      created_at: header.created_at,
      attempts: 0,
      ...(header.max_attempts !== undefined ? { max_attempts: header.max_attempts } : {}),
      payload: [events[index]],
    };
    const device = (events[index] as { device_id?: unknown } | null)?.device_id;
    const record: Omit<DeadLetterRecord, 'consumer'> = {
      reason: fs.some((f) => f.reason === 'poison') ? 'poison' : 'invalid_payload',
      message: `event ${index} of task ${header.id}: ${[...new Set(fs.map((f) => f.message))].join('; ')}`,
      raw: JSON.stringify(part),
      task_id: id,
      task_type: header.type,
      part_of: header.id,
      attempts: attempt.attempts,
      first_failed_at: attempt.firstFailedAt,
      last_failed_at: attempt.lastFailedAt,
    };
    return { record, deviceId: typeof device === 'string' ? device : undefined };
  });
}
