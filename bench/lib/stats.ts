import { performance } from 'node:perf_hooks';

/** Order statistics for benchmark samples: every figure is reported as median and p95 of its runs. */

export interface Summary {
  readonly n: number;
  readonly median: number;
  readonly p95: number;
  readonly min: number;
  readonly max: number;
  /** The samples themselves, in run order, so a results file can be re-analysed. */
  readonly values: number[];
}

/** Linear interpolation between closest ranks (the common "type 7" quantile). */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const position = (sorted.length - 1) * q;
  const below = Math.floor(position);
  const above = Math.ceil(position);
  return sorted[below]! + (sorted[above]! - sorted[below]!) * (position - below);
}

export function summarize(values: readonly number[]): Summary | undefined {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return undefined;
  const sorted = [...finite].sort((a, b) => a - b);
  return {
    n: sorted.length,
    median: quantile(sorted, 0.5),
    p95: quantile(sorted, 0.95),
    min: sorted[0]!,
    max: sorted[sorted.length - 1]!,
    values: finite.map((v) => Math.round(v * 1000) / 1000),
  };
}

export function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

/** Runs `a` and `b` one after the other, `a` first on even runs, so neither side always meets a warmer cache. */
export async function alternately<A, B>(run: number, a: () => Promise<A>, b: () => Promise<B>): Promise<[A, B]> {
  if (run % 2 === 0) {
    const first = await a();
    return [first, await b()];
  }
  const second = await b();
  return [await a(), second];
}

/** Milliseconds `work` took. */
export async function msTaken(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}
