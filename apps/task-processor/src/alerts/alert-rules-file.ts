import { z } from 'zod';
import { loadConfigFile, parseConfigFile } from '@telemetryhub/service-kit';
import { DeviceIdSchema, MetricNameSchema } from '@telemetryhub/schemas';
import type { ThresholdRule } from './alert-rules.js';

/**
 * The processor's threshold rules (`ALERT_RULES_FILE`, YAML or JSON), replacing the built-in defaults:
 *
 *   rules:
 *     - { metric: temperature, max: 80, min: -20, hysteresis: 2 }       # every device
 *     - { metric: temperature, device: oven-1, max: 250, hysteresis: 5 } # oven-1's own max; its min stays -20
 *
 * An entry sets `max`, `min` or both (two rules). A device's own rule replaces, for that device, the rule of every
 * device with the same metric and kind. `hysteresis` is required: how far back past the threshold a value must
 * come before the alert resolves, so a value hovering at the threshold does not fire and resolve over and over.
 * See `apps/task-processor/alert-rules.example.yaml`.
 */
const RuleEntrySchema = z
  .object({
    metric: MetricNameSchema,
    device: DeviceIdSchema.optional(),
    max: z.number().optional(), // zod refuses NaN and ±Infinity
    min: z.number().optional(),
    hysteresis: z.number().min(0),
  })
  .strict()
  .superRefine((e, ctx) => {
    if (e.max === undefined && e.min === undefined) ctx.addIssue({ code: 'custom', message: 'needs max, min or both' });
    if (e.max !== undefined && e.min !== undefined && e.min >= e.max) {
      ctx.addIssue({ code: 'custom', path: ['min'], message: `must be below max (${e.max})` });
    }
  });

export const AlertRulesFileSchema = z
  .object({ rules: z.array(RuleEntrySchema) })
  .strict()
  .superRefine((file, ctx) => {
    const seen = new Map<string, number>();
    file.rules.forEach((e, i) => {
      for (const kind of ['max', 'min'] as const) {
        if (e[kind] === undefined) continue;
        const key = `${e.device ?? '*'} ${e.metric} ${kind}`;
        const first = seen.get(key);
        if (first === undefined) seen.set(key, i);
        else {
          const whose = e.device ? `device ${e.device}` : 'every device';
          ctx.addIssue({
            code: 'custom',
            path: ['rules', i, kind],
            message: `rules[${first}] already sets the ${kind} of ${e.metric} for ${whose}`,
          });
        }
      }
    });
  });
export type AlertRulesFile = z.output<typeof AlertRulesFileSchema>;

/** Reads, validates and expands the file; a ConfigError names every problem (`rules[2].hysteresis: …`). */
export function loadAlertRulesFile(path: string, storedDeviceId?: (id: string) => string): ThresholdRule[] {
  return expandRules(loadConfigFile(AlertRulesFileSchema, path, 'ALERT_RULES_FILE'), storedDeviceId);
}

export function parseAlertRulesFile(
  text: string,
  path: string,
  storedDeviceId?: (id: string) => string,
): ThresholdRule[] {
  return expandRules(parseConfigFile(AlertRulesFileSchema, text, path, 'ALERT_RULES_FILE'), storedDeviceId);
}

/**
 * One ThresholdRule per kind set. `storedDeviceId` maps a device as the file names it to the id readings carry
 * when device ids are pseudonymised (DEVICE_ID_HMAC_KEY), so the file can name devices as they name themselves.
 */
function expandRules(file: AlertRulesFile, storedDeviceId = (id: string) => id): ThresholdRule[] {
  return file.rules.flatMap((e) =>
    (['max', 'min'] as const).flatMap((kind) =>
      e[kind] === undefined
        ? []
        : [
            {
              metric: e.metric,
              kind,
              threshold: e[kind],
              hysteresis: e.hysteresis,
              ...(e.device === undefined ? {} : { device: storedDeviceId(e.device) }),
            },
          ],
    ),
  );
}
