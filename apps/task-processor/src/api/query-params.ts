import { z } from 'zod';
import { ValidationError, formatPath } from '@telemetryhub/service-kit';
import { DeviceIdSchema, InstantSchema, MetricNameSchema } from '@telemetryhub/schemas';

/** Parses route params and query strings with zod; a bad one is a 400 naming the parameter. */
export function parseParams<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const r = schema.safeParse(input);
  if (!r.success)
    throw new ValidationError(r.error.issues.map((i) => ({ path: formatPath(i.path), message: i.message })));
  return r.data;
}

export const DeviceMetricParams = z.object({ deviceId: DeviceIdSchema, metric: MetricNameSchema });

/** `from`/`to` as ISO-8601 or epoch seconds; a window of at most `maxDays`. */
export const timeRange = (defaultHours: number, maxDays: number) =>
  z
    .object({
      from: InstantSchema.optional(),
      to: InstantSchema.optional(),
    })
    .transform((r) => {
      const to = r.to ?? new Date().toISOString();
      const from = r.from ?? new Date(Date.parse(to) - defaultHours * 3600_000).toISOString();
      return { from, to };
    })
    .refine((r) => r.from <= r.to, { error: 'from must not be after to', path: ['from'] })
    .refine((r) => Date.parse(r.to) - Date.parse(r.from) <= maxDays * 86_400_000, {
      error: `the window may span at most ${maxDays} days`,
      path: ['to'],
    });
