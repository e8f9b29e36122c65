import type { Reading } from '@telemetryhub/schemas';

/** What the readings of a fold say of one device: its event-time span and the labels of its newest reading. */
export interface DeviceSeen {
  first: number;
  last: number;
  site: string | null;
  region: string | null;
  firmware: string | null;
}

/**
 * The devices of readings gathered over one or more batches (a fold's, held between folds): one entry per device,
 * however many readings went in. On equal event times the reading added later gives the labels.
 */
export class DevicesSeen {
  private readonly seen = new Map<string, DeviceSeen>();

  add(r: Pick<Reading, 'device_id' | 'site' | 'region' | 'firmware'>, ms: number): void {
    const d = this.seen.get(r.device_id);
    if (!d) this.seen.set(r.device_id, { first: ms, last: ms, site: r.site, region: r.region, firmware: r.firmware });
    else {
      if (ms < d.first) d.first = ms;
      if (ms >= d.last) {
        d.last = ms;
        d.site = r.site;
        d.region = r.region;
        d.firmware = r.firmware;
      }
    }
  }

  /** Takes in `other`'s devices, seen after these (`other` is not to be used after). */
  absorb(other: DevicesSeen): void {
    for (const [id, o] of other.seen) {
      const d = this.seen.get(id);
      if (!d) this.seen.set(id, o);
      else {
        if (o.first < d.first) d.first = o.first;
        if (o.last >= d.last) Object.assign(d, { last: o.last, site: o.site, region: o.region, firmware: o.firmware });
      }
    }
  }

  get size(): number {
    return this.seen.size;
  }

  /** The devices in device-id order (the order rows are locked in, the same on every replica). */
  sorted(): Array<[string, DeviceSeen]> {
    return [...this.seen.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }
}
