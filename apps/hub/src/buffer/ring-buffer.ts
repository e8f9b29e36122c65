/**
 * A fixed-capacity FIFO ring buffer: O(1) push and take, no allocation after construction. Full-buffer policy is
 * the caller's choice per push: `pushDropOldest` evicts and returns the oldest item, `tryPush` refuses.
 */
export class RingBuffer<T> {
  private readonly slots: Array<T | undefined>;
  private head = 0; // index of the oldest item
  private count = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a positive integer');
    this.slots = new Array<T | undefined>(capacity);
  }

  get size(): number {
    return this.count;
  }
  get free(): number {
    return this.capacity - this.count;
  }
  get isFull(): boolean {
    return this.count === this.capacity;
  }

  /** Appends; when full, first evicts the oldest item and returns it (the caller counts the drop). */
  pushDropOldest(item: T): T | undefined {
    let evicted: T | undefined;
    if (this.count === this.capacity) evicted = this.shift();
    this.slots[(this.head + this.count) % this.capacity] = item;
    this.count++;
    return evicted;
  }

  /** Appends unless full; returns false (and changes nothing) when full. */
  tryPush(item: T): boolean {
    if (this.count === this.capacity) return false;
    this.slots[(this.head + this.count) % this.capacity] = item;
    this.count++;
    return true;
  }

  /** Removes and returns up to `max` oldest items, oldest first. */
  take(max: number): T[] {
    const n = Math.min(max, this.count);
    const out = new Array<T>(n);
    for (let i = 0; i < n; i++) out[i] = this.shift() as T;
    return out;
  }

  private shift(): T | undefined {
    const item = this.slots[this.head];
    this.slots[this.head] = undefined; // let the GC have it
    this.head = (this.head + 1) % this.capacity;
    this.count--;
    return item;
  }
}
