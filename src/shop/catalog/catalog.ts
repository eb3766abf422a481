import { LRUCache } from "lru-cache";
import { BloomFilter } from "./bloom.ts";

/**
 * Catalog reads (docs/architecture.md §Reads): a Bloom filter of known SKU ids in front of an in-process LRU cache in
 * front of the database. An id the filter has never seen is answered "unknown" without any I/O, so
 * a flood of made-up ids never reaches the database; the filter's rare false positives are cached
 * as misses for a short time so that they cannot hammer it either. I/O is injected.
 */

export interface Sku {
  id: string;
  name: string;
  /** Integer minor units (cents). */
  price: number;
  attrs: Record<string, unknown>;
}

export type LookupSource = "bloom" | "cache" | "db";

export interface Lookup {
  /** Absent when the SKU does not exist. */
  sku?: Sku;
  /** Who answered: the Bloom filter (certainly unknown), the cache, or the database. */
  source: LookupSource;
}

export interface CatalogReaderOptions {
  loadSku(id: string): Promise<Sku | undefined>;
  loadAllIds(): Promise<string[]>;
  /** Most entries (hits and misses) the cache holds. */
  cacheMax: number;
  /** How long a loaded SKU is served from the cache. */
  cacheTtlMs: number;
  /** How long a miss (a Bloom false positive, or a SKU deleted since the last refresh) is remembered. */
  negativeTtlMs: number;
  /** Bloom filter target false-positive rate; default 1 %. */
  falsePositiveRate?: number;
  /** Milliseconds for cache expiry; defaults to performance.now. */
  now?: () => number;
}

export interface CatalogStats {
  lookups: Record<LookupSource, number>;
  /** loadSku calls actually made (concurrent gets of one id share one). */
  loads: number;
}

type Entry = { sku: Sku } | { sku: undefined };
const MISSING: Entry = { sku: undefined };

/** The filter is sized for this many ids at least, and for twice the ids loaded, leaving room for SKUs added until the next refresh. */
const MIN_CAPACITY = 1024;

export class CatalogReader {
  readonly stats: CatalogStats = { lookups: { bloom: 0, cache: 0, db: 0 }, loads: 0 };
  private readonly cache: LRUCache<string, Entry>;
  private readonly falsePositiveRate: number;
  private filter: BloomFilter | undefined;
  private firstRefresh: Promise<void> | undefined;
  /** Ids added while a refresh is loading ids: its new filter must contain them too. */
  private readonly addedDuringRefresh = new Set<Set<string>>();

  constructor(private readonly options: CatalogReaderOptions) {
    this.falsePositiveRate = options.falsePositiveRate ?? 0.01;
    const now = options.now ?? (() => performance.now());
    this.cache = new LRUCache<string, Entry>({
      max: options.cacheMax,
      ttl: options.cacheTtlMs,
      ttlResolution: 0,
      perf: { now },
      // A SKU added while its load is in flight: let that load finish for its waiters, uncached.
      ignoreFetchAbort: true,
      fetchMethod: async (id, _stale, { options: set }) => {
        this.stats.loads++;
        const sku = await this.options.loadSku(id);
        if (sku) return { sku };
        set.ttl = this.options.negativeTtlMs;
        return MISSING;
      },
    });
  }

  /** Rebuilds the Bloom filter from every id in the database. */
  async refresh(): Promise<void> {
    const added = new Set<string>();
    this.addedDuringRefresh.add(added);
    try {
      const ids = await this.options.loadAllIds();
      const filter = BloomFilter.forCapacity(Math.max(MIN_CAPACITY, ids.length * 2), this.falsePositiveRate);
      for (const id of ids) filter.add(id);
      for (const id of added) filter.add(id);
      this.filter = filter;
    } finally {
      this.addedDuringRefresh.delete(added);
    }
  }

  /** Makes a SKU created after the last refresh visible (and forgets a cached miss for it). */
  add(id: string): void {
    this.filter?.add(id);
    for (const added of this.addedDuringRefresh) added.add(id);
    this.cache.delete(id);
  }

  async get(id: string): Promise<Lookup> {
    const filter = this.filter ?? (await this.ensureFilter());
    if (!filter.mightContain(id)) return this.counted("bloom");
    const cached = this.cache.get(id);
    if (cached) return this.counted("cache", cached.sku);
    // fetch() shares one in-flight loadSku between concurrent gets of the same id.
    const loaded = await this.cache.fetch(id);
    return this.counted("db", loaded?.sku);
  }

  private counted(source: LookupSource, sku?: Sku): Lookup {
    this.stats.lookups[source]++;
    return sku ? { sku, source } : { source };
  }

  /** The first get before any refresh loads the filter (once, shared); a failure is retried next time. */
  private async ensureFilter(): Promise<BloomFilter> {
    this.firstRefresh ??= this.refresh().catch((error: unknown) => {
      this.firstRefresh = undefined;
      throw error;
    });
    await this.firstRefresh;
    if (!this.filter) throw new Error("catalog filter missing after refresh");
    return this.filter;
  }
}
