-- Device metadata: one row per device. `site`, `region` and `firmware` follow the device's newest stored
-- reading, `first_seen` / `last_seen` the event times of its stored readings (last_seen to the minute); `model`
-- and `labels` come from DEVICE_METADATA_FILE. A device named in that file before it sends anything has no
-- times yet.

CREATE TABLE devices (
  device_id text PRIMARY KEY,
  site text,
  region text,
  firmware text,
  model text,
  labels jsonb NOT NULL DEFAULT '{}',
  first_seen timestamptz,
  last_seen timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX devices_site_region ON devices (site, region);
