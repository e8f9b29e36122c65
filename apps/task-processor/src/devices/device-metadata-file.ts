import { z } from 'zod';
import { loadConfigFile, parseConfigFile } from '@telemetryhub/service-kit';
import { DeviceIdSchema, LabelSchema } from '@telemetryhub/schemas';
import type { DeviceMetadata } from './devices.repo.js';

/**
 * What the processor is told of devices beyond what their readings say (`DEVICE_METADATA_FILE`, YAML or JSON),
 * applied at start-up to the `devices` table:
 *
 *   devices:
 *     - { id: kiln-1, model: KX-200, labels: { line: "3", owner: ceramics } }
 *
 * The file is the source of truth for the model and labels of the devices it lists; other devices keep theirs.
 * See `apps/task-processor/device-metadata.example.yaml`.
 */
const LabelKeySchema = z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be 1–64 letters, digits or _ . : -');
const DeviceEntrySchema = z
  .object({
    id: DeviceIdSchema,
    model: LabelSchema.optional(),
    labels: z
      .record(LabelKeySchema, LabelSchema, {
        error: (issue) =>
          issue.code === 'invalid_key' ? 'a label key must be 1–64 letters, digits or _ . : -' : undefined,
      })
      .default({}),
  })
  .strict();

export const DeviceMetadataFileSchema = z
  .object({ devices: z.array(DeviceEntrySchema) })
  .strict()
  .superRefine((file, ctx) => {
    const seen = new Map<string, number>();
    file.devices.forEach((d, i) => {
      const first = seen.get(d.id);
      if (first === undefined) seen.set(d.id, i);
      else ctx.addIssue({ code: 'custom', path: ['devices', i, 'id'], message: `${d.id} is also devices[${first}]` });
    });
  });

/** Reads and validates the file; `storedDeviceId` maps ids to the pseudonyms readings carry (DEVICE_ID_HMAC_KEY). */
export function loadDeviceMetadataFile(path: string, storedDeviceId?: (id: string) => string): DeviceMetadata[] {
  return toMetadata(loadConfigFile(DeviceMetadataFileSchema, path, 'DEVICE_METADATA_FILE'), storedDeviceId);
}

export function parseDeviceMetadataFile(
  text: string,
  path: string,
  storedDeviceId?: (id: string) => string,
): DeviceMetadata[] {
  return toMetadata(parseConfigFile(DeviceMetadataFileSchema, text, path, 'DEVICE_METADATA_FILE'), storedDeviceId);
}

function toMetadata(
  file: z.output<typeof DeviceMetadataFileSchema>,
  storedDeviceId = (id: string) => id,
): DeviceMetadata[] {
  return file.devices.map((d) => ({ deviceId: storedDeviceId(d.id), model: d.model ?? null, labels: d.labels }));
}
