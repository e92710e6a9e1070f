import { ModelFileError } from '../../base/errors.ts';
import type { JarvisConfig } from '../../config/schema.ts';
import type { Synthesizer } from '../ports.ts';
import { EspeakSynthesizer } from './espeak.ts';
import { openAiSynthesizer } from './openai.ts';
import type { TtsLog } from './phonemize.ts';
import { PiperSynthesizer, piperVoiceFilesExist, piperVoiceFiles, piperVoiceUrls } from './piper.ts';

/**
 * Picks the voice: an OpenAI-compatible speech server when tts.engine says so, else the configured Piper voice when
 * its files are there, otherwise espeak-ng, so Jarvis can always answer aloud (the daemon puts espeak-ng behind the
 * first two for the sentences they cannot say); the choice and its reason are returned and logged, because a robotic voice with no explanation
 * looks like a bug.
 */

export interface SynthesizerChoice {
  readonly synthesizer: Synthesizer;
  readonly engine: 'piper' | 'espeak' | 'openai';
  /** One sentence for logs and `jarvis doctor`. */
  readonly reason: string;
  /** Set when Piper was wanted but espeak-ng stands in: the missing voice file, with what would bring Piper back. */
  readonly missing?: ModelFileError;
}

/** The configured espeak-ng voice: the voice of last resort (it needs no model file). */
export function createEspeak(tts: JarvisConfig['tts']): EspeakSynthesizer {
  return new EspeakSynthesizer({ voice: tts.espeakVoice, rate: tts.rate });
}

export function createSynthesizer(tts: JarvisConfig['tts'], log?: TtsLog): SynthesizerChoice {
  const espeak = () => createEspeak(tts);
  let choice: SynthesizerChoice;
  if (tts.engine === 'openai') {
    const server = openAiSynthesizer(tts);
    choice = { synthesizer: server, engine: 'openai', reason: server.description };
  } else if (tts.engine === 'espeak') {
    choice = { synthesizer: espeak(), engine: 'espeak', reason: `tts.engine is "espeak" (voice ${tts.espeakVoice})` };
  } else if (piperVoiceFilesExist(tts.voice)) {
    choice = {
      synthesizer: new PiperSynthesizer({ voicePath: tts.voice, rate: tts.rate, log }),
      engine: 'piper',
      reason: `Piper voice ${tts.voice}`,
    };
  } else {
    const { modelPath, configPath } = piperVoiceFiles(tts.voice);
    const urls = piperVoiceUrls(tts.voice);
    const reason = `Piper voice files not found (${modelPath} and ${configPath}); speaking with espeak-ng voice ${tts.espeakVoice} instead`;
    const fix = urls
      ? `Download ${urls.model} and ${urls.config} into the folder of ${modelPath} for the Piper voice.`
      : `Put a Piper voice's .onnx and .onnx.json (https://huggingface.co/rhasspy/piper-voices) at ${modelPath}.`;
    choice = { synthesizer: espeak(), engine: 'espeak', reason, missing: new ModelFileError('model-missing', modelPath, reason, fix) };
  }
  const details = { engine: choice.engine, reason: choice.reason, ...(choice.missing ? { fix: choice.missing.fix } : {}) };
  // The caller reports a fallback as a problem with its fix (the daemon, doctor): here it is only a detail.
  if (choice.missing) log?.debug(details, 'text-to-speech falls back to espeak-ng');
  else log?.info(details, `text-to-speech: ${choice.engine}`);
  return choice;
}
