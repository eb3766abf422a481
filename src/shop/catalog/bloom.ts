/**
 * Bloom filter of known SKU ids (docs/architecture.md §Reads), pure. Hand-written on purpose: it is a few dozen lines, we
 * rebuild it from the database whenever we like (a fresh filter per refresh, no removal needed),
 * and owning the hashing keeps it dependency-free and its false-positive rate testable.
 *
 * Sizing (n expected items, p target false-positive rate):
 *   m = ⌈−n·ln p / (ln 2)²⌉ bits, rounded up to a prime,  k = round(m/n · ln 2) hashes.
 * The k bit positions come from two 32-bit hashes by enhanced double hashing (Dillinger &
 * Manolios): x ← x + y, y ← y + i (mod m). Plain double hashing (x + i·y) probes few distinct bits
 * when gcd(y, m) is large (m = 3·13087, y = 13087: 3 bits, 27 times) and lets keys with equal y
 * share runs of probes; measured here, that put a 1e-8 filter's false positives ~10× above the
 * floor every two-hash scheme has (about n/m²). A prime m also keeps every step coprime with m.
 */
export class BloomFilter {
  readonly bits: number;
  readonly hashes: number;
  private readonly words: Uint8Array;

  constructor(bits: number, hashes: number) {
    if (!Number.isInteger(bits) || bits < 8 || bits > 2 ** 32) {
      throw new RangeError(`bits must be an integer in 8..2^32, got ${bits}`);
    }
    if (!Number.isInteger(hashes) || hashes < 1 || hashes > 32) {
      throw new RangeError(`hashes must be 1..32, got ${hashes}`);
    }
    this.bits = bits;
    this.hashes = hashes;
    this.words = new Uint8Array(Math.ceil(bits / 8));
  }

  static forCapacity(expectedItems: number, falsePositiveRate: number): BloomFilter {
    if (!(falsePositiveRate > 0 && falsePositiveRate < 1)) {
      throw new RangeError(`false-positive rate must be in (0, 1), got ${falsePositiveRate}`);
    }
    const n = Math.max(1, Math.ceil(expectedItems));
    const bits = nextPrime(Math.max(8, Math.ceil((-n * Math.log(falsePositiveRate)) / Math.LN2 ** 2)));
    const hashes = Math.min(32, Math.max(1, Math.round((bits / n) * Math.LN2)));
    return new BloomFilter(bits, hashes);
  }

  add(key: string): void {
    const m = this.bits;
    let [x, y] = hashPair(key);
    x %= m;
    y %= m;
    for (let i = 1; i <= this.hashes; i++) {
      this.words[x >>> 3] = (this.words[x >>> 3] ?? 0) | (1 << (x & 7));
      x = (x + y) % m;
      y = (y + i) % m;
    }
  }

  /** False: certainly never added. True: probably added (false positives at about the sized rate). */
  mightContain(key: string): boolean {
    const m = this.bits;
    let [x, y] = hashPair(key);
    x %= m;
    y %= m;
    for (let i = 1; i <= this.hashes; i++) {
      if (((this.words[x >>> 3] ?? 0) & (1 << (x & 7))) === 0) return false;
      x = (x + y) % m;
      y = (y + i) % m;
    }
    return true;
  }
}

function nextPrime(n: number): number {
  for (let candidate = n | 1; ; candidate += 2) {
    let prime = true;
    for (let d = 3; d * d <= candidate; d += 2) {
      if (candidate % d === 0) {
        prime = false;
        break;
      }
    }
    if (prime) return candidate;
  }
}

/** murmur3's 32-bit finaliser: spreads every input bit over every output bit. */
function fmix32(h: number): number {
  let x = h ^ (h >>> 16);
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/**
 * Two independent 32-bit hashes of the string's UTF-16 code units: FNV-1a, and the same
 * xor-multiply recurrence with murmur2's multiplier and another basis, each finalised with fmix32.
 */
function hashPair(key: string): [number, number] {
  let a = 0x811c9dc5;
  let b = 0x050c5d1f;
  for (let i = 0; i < key.length; i++) {
    const unit = key.charCodeAt(i);
    a = Math.imul(a ^ unit, 0x01000193);
    b = Math.imul(b ^ unit, 0x5bd1e995);
  }
  return [fmix32(a), fmix32(b)];
}
