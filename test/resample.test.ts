import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resampleFloat } from '../voice/wav.ts';

/** The band-limited resampler (voice/wav.ts): what played audio goes through on its way to the echo guard. */

const tone = (hz: number, rate: number, seconds: number, amplitude = 10_000) =>
  Float64Array.from({ length: Math.round(rate * seconds) }, (_, i) => amplitude * Math.sin((2 * Math.PI * hz * i) / rate));
const rms = (x: ArrayLike<number>, from = 0, to = x.length) => {
  let sum = 0;
  for (let i = from; i < to; i++) sum += x[i]! ** 2;
  return Math.sqrt(sum / (to - from));
};

test('22.05 / 44.1 / 48 kHz speech rates to 16 kHz and back: a tone in band keeps its level, one above the new Nyquist is removed', () => {
  for (const [from, to] of [[22_050, 16_000], [44_100, 16_000], [48_000, 16_000], [16_000, 22_050], [22_051, 16_000]] as const) {
    const inBand = resampleFloat(tone(1000, from, 1), from, to);
    assert.equal(inBand.length, Math.floor(from * (to / from)));
    // Away from the ends: 1 kHz keeps its level within 1 %.
    const level = rms(inBand, 200, inBand.length - 200) / (10_000 / Math.SQRT2);
    assert.ok(Math.abs(level - 1) < 0.01, `${from} → ${to}: 1 kHz at ${level.toFixed(4)} of its level`);
    if (to < from) {
      const alias = resampleFloat(tone(0.45 * from, from, 1), from, to);
      const db = 20 * Math.log10(rms(alias, 200, alias.length - 200) / (10_000 / Math.SQRT2));
      assert.ok(db < -30, `${from} → ${to}: a tone above 8 kHz comes through at ${db.toFixed(1)} dB`);
    }
  }
});

test('a constant stays that constant everywhere, also at the ends where the filter runs off the input', () => {
  for (const [from, to] of [[22_050, 16_000], [16_000, 48_000], [22_051, 16_000]] as const) {
    const out = resampleFloat(new Float64Array(from / 10).fill(1234), from, to);
    for (let i = 0; i < out.length; i++) assert.ok(Math.abs(out[i]! - 1234) < 1e-6, `${from} → ${to}: sample ${i} is ${out[i]}`);
  }
});
