/**
 * How long to wait before retry number `retry` (0 for the first retry): `firstMs`, doubling each time, at most `maxMs`.
 * Shared by everything that retries on its own (the microphone, downloads, the LLM worker), so they back off alike.
 */
export function backoffMs(firstMs: number, retry: number, maxMs = Number.POSITIVE_INFINITY): number {
  return Math.min(firstMs * 2 ** retry, maxMs);
}
