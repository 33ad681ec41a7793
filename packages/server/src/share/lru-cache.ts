/**
 * A least-recently-used map (insertion order of a Map) bounded by the sum of its entries' sizes:
 * `sizeOf` gives an entry's cost (bytes for parsed instances and JPEGs; 1 each counts entries).
 * An entry costing more than the whole budget is not kept at all.
 */
export class LruCache<T> {
  private readonly map = new Map<string, { value: T; size: number }>();
  private used = 0;
  private readonly budget: number;
  private readonly sizeOf: (value: T) => number;

  constructor(budget: number, sizeOf: (value: T) => number = () => 1) {
    this.budget = budget;
    this.sizeOf = sizeOf;
  }
  /** the sum of the sizes of the entries kept */
  get size(): number {
    return this.used;
  }
  get count(): number {
    return this.map.size;
  }
  get(key: string): T | undefined {
    const entry = this.map.get(key);
    if (entry !== undefined) {
      this.map.delete(key);
      this.map.set(key, entry);
    }
    return entry?.value;
  }
  set(key: string, value: T): void {
    this.delete(key);
    const size = this.sizeOf(value);
    if (size > this.budget) return;
    this.map.set(key, { value, size });
    this.used += size;
    while (this.used > this.budget) this.delete(this.map.keys().next().value!);
  }
  private delete(key: string): void {
    const entry = this.map.get(key);
    if (!entry) return;
    this.map.delete(key);
    this.used -= entry.size;
  }
}
