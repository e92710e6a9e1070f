import fs from 'node:fs';
import path from 'node:path';
import { loadConfig, parseConfig } from '../../config/load.ts';
import type { JarvisConfig } from '../../config/schema.ts';
import { JarvisError } from '../../base/errors.ts';
import { shippedModels } from '../../voice/shipped.ts';
import { ensureTinyGguf } from '../../test/models/tiny-gguf.ts';
import { ensureTinyPiperVoice } from '../../test/models/piper-voice.ts';
import { ensureTinyWhisperModel } from '../../test/models/whisper-ggml.ts';
import { piperVoiceFiles, piperVoiceFilesExist } from '../../voice/tts/piper.ts';
import { describeModelFile, type ModelFact } from './machine.ts';

/**
 * Which models a benchmark runs on. By default the test-made ones (test/models: the real runtimes on tiny
 * random-weight files, so the timings of this box are real but the words are not); with `--models` the user's
 * real files, from a folder or from a JARVIS config file.
 */

export interface BenchSetup {
  readonly config: JarvisConfig;
  readonly origin: 'test-made' | 'user-supplied';
  /** Whisper can recognise words, so stop phrases and the wake word's transcript check can be measured. */
  readonly realSpeechToText: boolean;
  readonly models: ModelFact[];
  /** One line for the table header. */
  readonly description: string;
}

const DEFAULT_NAMES = {
  stt: 'ggml-base.en.bin',
  llm: 'Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf',
  voice: 'en_GB-alan-medium.onnx',
};

export async function benchSetup(models: string | undefined): Promise<BenchSetup> {
  if (!models) return testMadeSetup();
  if (!fs.existsSync(models)) {
    throw new JarvisError('bench-models', `--models ${models}: no such file or folder`, 'Pass the folder that holds the model files, or a JARVIS config.json.');
  }
  const config = fs.statSync(models).isDirectory() ? configFromFolder(models) : loadConfig({ file: models, env: {} });
  for (const [key, file] of [['stt.model', config.stt.model], ['llm.model', config.llm.model]] as const) {
    if (!fs.existsSync(file)) {
      throw new JarvisError('bench-models', `${key} = ${file}: the file does not exist`, 'Download the model (see the README\'s Models section) or fix the path.');
    }
  }
  return {
    config,
    origin: 'user-supplied',
    realSpeechToText: true,
    models: await modelFacts(config, 'user-supplied'),
    description: `models: ${path.basename(config.stt.model)}, ${path.basename(config.llm.model)}, ${ttsName(config)}`,
  };
}

async function testMadeSetup(): Promise<BenchSetup> {
  const [stt, llm, voice] = await Promise.all([ensureTinyWhisperModel(), ensureTinyGguf(), ensureTinyPiperVoice()]);
  const config = parseConfig({
    stt: { model: stt },
    // Random text rarely ends a sentence, so its first "sentence" would run to the splitter's 220-character cap; a
    // 24-token answer (about one short spoken sentence) keeps the first-sentence figure near what a real model gives.
    llm: { model: llm, maxAnswerTokens: 24 },
    tts: { voice },
    // The test-made Whisper model hears no words, so it could never confirm "Jarvis" and every turn would drop.
    wake: { verifyTranscript: false },
  });
  return {
    config,
    origin: 'test-made',
    realSpeechToText: false,
    models: await modelFacts(config, 'test-made'),
    description: 'test-made models (test/models: real runtimes, tiny random weights; words are not real)',
  };
}

function configFromFolder(folder: string): JarvisConfig {
  const files = fs.readdirSync(folder).sort();
  const pick = (preferred: string, match: (name: string) => boolean) =>
    files.includes(preferred) ? preferred : files.find(match);
  const stt = pick(DEFAULT_NAMES.stt, (f) => /^ggml-.*\.bin$/.test(f));
  const llm = pick(DEFAULT_NAMES.llm, (f) => f.endsWith('.gguf'));
  const voice = pick(DEFAULT_NAMES.voice, (f) => f.endsWith('.onnx') && files.includes(`${f}.json`));
  const missing = [!stt && 'Whisper model (ggml-*.bin)', !llm && 'chat model (*.gguf)'].filter(Boolean);
  if (missing.length > 0) {
    throw new JarvisError('bench-models', `--models ${folder} has no ${missing.join(' and no ')}`, 'Put the model files there (README: Models) or pass a config.json that names them.');
  }
  return parseConfig({
    stt: { model: path.join(folder, stt!) },
    llm: { model: path.join(folder, llm!) },
    // Without a Piper voice JARVIS speaks with espeak-ng, and so does the benchmark (recorded as such).
    tts: voice ? { voice: path.join(folder, voice) } : { voice: path.join(folder, DEFAULT_NAMES.voice) },
  });
}

function ttsName(config: JarvisConfig): string {
  return config.tts.engine === 'piper' && piperVoiceFilesExist(config.tts.voice) ? path.basename(config.tts.voice) : `espeak-ng ${config.tts.espeakVoice}`;
}

async function modelFacts(config: JarvisConfig, origin: ModelFact['origin']): Promise<ModelFact[]> {
  const files: [string, string, ModelFact['origin']][] = [
    ['wake: mel spectrogram', shippedModels.melspectrogram, 'shipped with npm'],
    ['wake: embedding', shippedModels.wakeEmbedding, 'shipped with npm'],
    ['wake: classifier', config.wake.model ?? shippedModels.heyJarvis, config.wake.model ? 'user-supplied' : 'shipped with npm'],
    ['vad', config.vad.model ?? shippedModels.sileroVadV5, config.vad.model ? 'user-supplied' : 'shipped with npm'],
    ['stt', config.stt.model, origin],
    ['llm', config.llm.model, origin],
  ];
  if (config.tts.engine === 'piper' && piperVoiceFilesExist(config.tts.voice)) {
    const voice = piperVoiceFiles(config.tts.voice);
    files.push(['tts', voice.modelPath, origin], ['tts config', voice.configPath, origin]);
  }
  return Promise.all(files.map(([stage, file, from]) => describeModelFile(stage, file, from)));
}
