import fs from 'node:fs';
import path from 'node:path';
import { DataType, encodeModel, floatTensor, int64Tensor, intAttr, intsAttr, node, stringAttr, valueInfo, type Onnx } from '../../voice/onnx-graph.ts';
import { TEST_MODELS_DIR, writeAtomic } from './cache.ts';
import { seededRandom } from './random.ts';

/**
 * A tiny Piper voice in Piper's real file format, made by the tests because no Piper voice can be downloaded
 * here. The .onnx has the exact signature of a Piper export (input int64 [batch, phonemes], input_lengths int64
 * [batch], scales float [3] → output float [batch, 1, time]) and a graph whose sound really depends on its
 * inputs: each phoneme id picks a random (seeded) amplitude and pitch, held for 256 × length_scale samples, so
 * output grows with the text and with a slower rate; the words are noise. The .onnx.json follows the layout of
 * the rhasspy/piper-voices configs, with an id for every symbol espeak-ng's IPA output uses.
 */

/** Bump when the model or config changes, so cached copies are rebuilt. */
const GENERATOR_VERSION = 1;
export const TINY_VOICE_NAME = 'en_US-test_tiny-x_low';
export const SAMPLES_PER_ID = 256;
export const NUM_SYMBOLS = 256;

const cacheDir = path.join(TEST_MODELS_DIR, `piper-v${GENERATOR_VERSION}`);

/**
 * Symbols in the order real Piper voices number them: pad, BOS, EOS, space, punctuation, Latin letters, then
 * the IPA letters, diacritics and suprasegmentals espeak-ng writes.
 */
const SYMBOLS: readonly string[] = [
  '_', '^', '$', ' ',
  ...'!\'(),-.:;?',
  ...'abcdefghijklmnopqrstuvwxyz',
  ...'æçðøħŋœǀǁǂǃɐɑɒɓɔɕɖɗɘəɚɛɜɞɟɠɡɢɣɤɥɦɧɨɪɫɬɭɮɯɰɱɲɳɴɵɶɸɹɺɻɽɾʀʁʂʃʄʈʉʊʋʌʍʎʏʐʑʒʔʕʘʙʛʜʝʟʡʢʲˈˌːˑ˞βθχᵻⱱ',
  ...'0123456789',
  '\u0327', '\u0303', '\u032a', '\u032f', '\u0329', 'ʰ', 'ˤ', 'ε', '↓', '#', '"', '↑', '\u033a', '\u033b', 'ʦ',
];

export interface TinyVoiceOptions {
  /** Above 1 the model takes Piper's "sid" input and each speaker has its own pitch. */
  speakers?: number;
}

export function tinyVoiceConfig(options: TinyVoiceOptions = {}): Record<string, unknown> {
  const speakers = options.speakers ?? 1;
  const phonemeIdMap: Record<string, number[]> = {};
  SYMBOLS.forEach((symbol, id) => {
    phonemeIdMap[symbol] ??= [id];
  });
  return {
    dataset: 'test_tiny',
    audio: { sample_rate: 22050, quality: 'x_low' },
    espeak: { voice: 'en-us' },
    language: {
      code: 'en_US',
      family: 'en',
      region: 'US',
      name_native: 'English',
      name_english: 'English',
      country_english: 'United States',
    },
    inference: { noise_scale: 0.667, length_scale: 1, noise_w: 0.8 },
    phoneme_type: 'espeak',
    phoneme_map: {},
    phoneme_id_map: phonemeIdMap,
    num_symbols: NUM_SYMBOLS,
    num_speakers: speakers,
    speaker_id_map: speakers > 1 ? Object.fromEntries(Array.from({ length: speakers }, (_, i) => [`speaker_${i}`, i])) : {},
    piper_version: '1.0.0',
  };
}


/** The .onnx bytes of the tiny voice. */
export function buildTinyPiperModel(options: TinyVoiceOptions & { seed?: number } = {}): Uint8Array {
  const random = seededRandom(options.seed ?? 1234);
  const speakers = options.speakers ?? 1;
  // Per symbol: amplitude, pitch (radians per sample, 110–330 Hz at 22.05 kHz) and a jitter the noise scales use.
  const table = new Float32Array(NUM_SYMBOLS * 3);
  for (let id = 0; id < NUM_SYMBOLS; id++) {
    table[id * 3] = 0.4 + random();
    table[id * 3 + 1] = (2 * Math.PI * (110 + 220 * random())) / 22050;
    table[id * 3 + 2] = random() * 2 - 1;
  }

  const initializer = [
    floatTensor('embedding', [NUM_SYMBOLS, 3], table),
    int64Tensor('i0', [], [0]),
    int64Tensor('i1', [], [1]),
    int64Tensor('i2', [], [2]),
    int64Tensor('axes0', [1], [0]),
    int64Tensor('axes1', [1], [1]),
    int64Tensor('axes2', [1], [2]),
    int64Tensor('shape1', [1], [1]),
    floatTensor('ones3', [3], [1, 1, 1]),
    floatTensor('samplesPerId', [], [SAMPLES_PER_ID]),
    floatTensor('one', [], [1]),
    floatTensor('tenth', [], [0.1]),
    floatTensor('drive', [], [1.5]),
    floatTensor('gain', [], [0.3]),
  ];

  const nodes: Onnx.INodeProto[] = [
    // Embedding of each id, zeroed past input_lengths as VITS masks its padding.
    node('Gather', ['embedding', 'input'], ['emb'], [intAttr('axis', 0)]),
    node('Shape', ['input'], ['inputShape']),
    node('Gather', ['inputShape', 'i1'], ['numIds'], [intAttr('axis', 0)]),
    node('Range', ['i0', 'numIds', 'i1'], ['positions']),
    node('Unsqueeze', ['positions', 'axes0'], ['positionsRow']),
    node('Unsqueeze', ['input_lengths', 'axes1'], ['lengthsCol']),
    node('Less', ['positionsRow', 'lengthsCol'], ['maskBool']),
    node('Cast', ['maskBool'], ['maskFloat'], [intAttr('to', DataType.FLOAT)]),
    node('Unsqueeze', ['maskFloat', 'axes2'], ['mask']),
    node('Mul', ['emb', 'mask'], ['embMasked']),

    // Hold each id for samplesPerId × length_scale samples.
    node('Gather', ['scales', 'i0'], ['noiseScale'], [intAttr('axis', 0)]),
    node('Gather', ['scales', 'i1'], ['lengthScale'], [intAttr('axis', 0)]),
    node('Gather', ['scales', 'i2'], ['noiseW'], [intAttr('axis', 0)]),
    node('Mul', ['lengthScale', 'samplesPerId'], ['stretch']),
    node('Reshape', ['stretch', 'shape1'], ['stretch1']),
    node('Concat', ['ones3', 'stretch1'], ['resizeScales'], [intAttr('axis', 0)]),
    node('Transpose', ['embMasked'], ['channels'], [intsAttr('perm', [0, 2, 1])]),
    node('Unsqueeze', ['channels', 'axes2'], ['channels4d']),
    node('Resize', ['channels4d', '', 'resizeScales'], ['held4d'], [stringAttr('mode', 'nearest')]),
    node('Squeeze', ['held4d', 'axes2'], ['held']),
    node('Gather', ['held', 'i0'], ['amplitude'], [intAttr('axis', 1)]),
    node('Gather', ['held', 'i1'], ['pitch'], [intAttr('axis', 1)]),
    node('Gather', ['held', 'i2'], ['jitter'], [intAttr('axis', 1)]),

    // pitch × (1 + noise_w/10 × jitter), amplitude × (1 + noise_scale/10 × jitter): the scales change the sound.
    node('Mul', ['noiseW', 'tenth'], ['pitchJitterScale']),
    node('Mul', ['jitter', 'pitchJitterScale'], ['pitchJitter']),
    node('Add', ['pitchJitter', 'one'], ['pitchFactor']),
    node('Mul', ['pitch', 'pitchFactor'], ['pitchJittered']),
    node('Mul', ['noiseScale', 'tenth'], ['ampJitterScale']),
    node('Mul', ['jitter', 'ampJitterScale'], ['ampJitter']),
    node('Add', ['ampJitter', 'one'], ['ampFactor']),
    node('Mul', ['amplitude', 'ampFactor'], ['amplitudeJittered']),

    // An oscillator whose phase accumulates the pitch, shaped by tanh and scaled to 0.3.
    node('CumSum', [speakers > 1 ? 'pitchSpoken' : 'pitchJittered', 'i1'], ['phase']),
    node('Sin', ['phase'], ['tone']),
    node('Mul', ['tone', 'amplitudeJittered'], ['voiced']),
    node('Mul', ['voiced', 'drive'], ['driven']),
    node('Tanh', ['driven'], ['shaped']),
    node('Mul', ['shaped', 'gain'], ['wave']),
    node('Unsqueeze', ['wave', 'axes1'], ['output']),
  ];

  const inputs = [
    valueInfo('input', DataType.INT64, ['batch_size', 'phonemes']),
    valueInfo('input_lengths', DataType.INT64, ['batch_size']),
    valueInfo('scales', DataType.FLOAT, [3]),
  ];
  if (speakers > 1) {
    // Each speaker scales the pitch: sid really changes the sound, as in a multi-speaker VITS.
    initializer.push(floatTensor('speakerPitch', [speakers], Array.from({ length: speakers }, (_, i) => 1 + 0.25 * i)));
    nodes.splice(
      nodes.findIndex((n) => n.opType === 'CumSum'),
      0,
      node('Gather', ['speakerPitch', 'sid'], ['speakerFactor'], [intAttr('axis', 0)]),
      node('Unsqueeze', ['speakerFactor', 'axes1'], ['speakerFactorCol']),
      node('Mul', ['pitchJittered', 'speakerFactorCol'], ['pitchSpoken']),
    );
    inputs.push(valueInfo('sid', DataType.INT64, ['batch_size']));
  }

  const model: Onnx.IModelProto = {
    irVersion: 8,
    producerName: 'jarvis-test',
    producerVersion: String(GENERATOR_VERSION),
    opsetImport: [{ domain: '', version: 13 }],
    docString: 'Tiny random-weight voice with the Piper VITS signature, made by test/models/piper-voice.ts',
    graph: {
      name: 'piper_tiny',
      node: nodes,
      initializer,
      input: inputs,
      output: [valueInfo('output', DataType.FLOAT, ['batch_size', 1, 'time'])],
    },
  };
  return encodeModel(model);
}

/**
 * Path of the tiny voice's .onnx (its .onnx.json beside it), written once under .cache/test-models/.
 */
export async function ensureTinyPiperVoice(options: TinyVoiceOptions = {}): Promise<string> {
  const speakers = options.speakers ?? 1;
  const name = speakers > 1 ? TINY_VOICE_NAME.replace('test_tiny', `test_tiny_${speakers}speakers`) : TINY_VOICE_NAME;
  const onnxPath = path.join(cacheDir, `${name}.onnx`);
  const configPath = `${onnxPath}.json`;
  if (fs.existsSync(onnxPath) && fs.existsSync(configPath)) return onnxPath;
  // The config goes first: the .onnx appearing is what marks the pair complete.
  await writeAtomic(configPath, `${JSON.stringify(tinyVoiceConfig({ speakers }), null, 2)}\n`);
  await writeAtomic(onnxPath, buildTinyPiperModel({ speakers }));
  return onnxPath;
}
