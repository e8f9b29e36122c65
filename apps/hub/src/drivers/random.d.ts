/** mulberry32: a small, fast, seedable PRNG, so a simulation can be replayed exactly in tests. */
export declare function seededRandom(seed: number): () => number;
/** A standard normal variate (Box–Muller) from a uniform source. */
export declare function gaussian(random: () => number): number;
//# sourceMappingURL=random.d.ts.map
