import fs from 'node:fs';
import path from 'node:path';
import { packageVersion } from '../../base/package-root.ts';
import type { JarvisConfig } from '../../config/schema.ts';
import { piperVoiceFilesExist } from '../../voice/tts/piper.ts';
import type { EventData } from './framing.ts';

/**
 * The `info` answer to `describe`: one program per service JARVIS serves (asr, tts, wake), each with its models and
 * their attribution, languages and whether their files are installed, laid out as rhasspy/wyoming's info.py
 * (AsrProgram.models, TtsProgram.voices, WakeProgram.models, WakeModel.phrase). Home Assistant offers exactly what
 * is listed here, in the languages listed.
 */

export interface ServedServices {
  readonly asr: boolean;
  readonly tts: boolean;
  readonly wake: boolean;
}

/** The wake word's name in Wyoming ("hey_jarvis", as wyoming-openwakeword names its models). */
export function wakeWordName(config: JarvisConfig): string {
  return config.wake.phrase.trim().toLowerCase().replace(/\s+/g, '_');
}

/** True when a `detect` asks for our wake word: by name or by phrase, in any case. */
export function isOurWakeWord(config: JarvisConfig, asked: string): boolean {
  const normal = (name: string) => name.trim().toLowerCase().replace(/[\s_-]+/g, '_');
  return normal(asked) === wakeWordName(config);
}

/** The config read at each `describe`: a model switched by `jarvis models use` shows at once. */
export function describeServices(config: JarvisConfig, served: ServedServices): EventData {
  const version = packageVersion();
  const info: EventData = { asr: [], tts: [], handle: [], intent: [], wake: [], mic: [], snd: [] };
  const language = config.stt.language;

  if (served.asr) {
    const model = config.stt.model;
    info.asr = [{
      name: 'jarvis-whisper',
      description: 'JARVIS speech to text (whisper.cpp)',
      attribution: { name: 'ggml-org', url: 'https://github.com/ggml-org/whisper.cpp' },
      installed: true,
      version,
      models: [{
        name: path.basename(model).replace(/\.bin$/, ''),
        description: `Whisper ${path.basename(model)}`,
        attribution: { name: 'OpenAI', url: 'https://github.com/openai/whisper' },
        installed: fs.existsSync(model),
        version: null,
        languages: [language],
      }],
    }];
  }

  if (served.tts) {
    const piper = config.tts.engine === 'piper' && piperVoiceFilesExist(config.tts.voice);
    const voiceName = piper ? path.basename(config.tts.voice).replace(/\.onnx$/, '') : config.tts.espeakVoice;
    info.tts = [{
      name: piper ? 'jarvis-piper' : 'jarvis-espeak-ng',
      description: piper ? 'JARVIS voice (Piper)' : 'JARVIS voice (espeak-ng; the Piper voice is not installed)',
      attribution: piper ? { name: 'Rhasspy', url: 'https://github.com/rhasspy/piper' } : { name: 'eSpeak NG', url: 'https://github.com/espeak-ng/espeak-ng' },
      installed: true,
      version,
      voices: [{
        name: voiceName,
        description: piper ? `Piper voice ${voiceName}` : `espeak-ng voice ${voiceName}`,
        attribution: piper ? { name: 'Rhasspy', url: 'https://huggingface.co/rhasspy/piper-voices' } : { name: 'eSpeak NG', url: 'https://github.com/espeak-ng/espeak-ng' },
        installed: true,
        version: null,
        languages: [piper ? piperLanguage(voiceName, language) : config.tts.espeakVoice],
        speakers: null,
      }],
    }];
  }

  if (served.wake) {
    const porcupine = config.wake.engine === 'porcupine';
    const model = porcupine ? config.wake.porcupine.keywordPath : config.wake.model;
    info.wake = [{
      name: porcupine ? 'jarvis-porcupine' : 'jarvis-openwakeword',
      description: `JARVIS wake word (${porcupine ? 'Porcupine' : 'openWakeWord'})`,
      attribution: porcupine ? { name: 'Picovoice', url: 'https://github.com/Picovoice/porcupine' } : { name: 'dscripka', url: 'https://github.com/dscripka/openWakeWord' },
      installed: true,
      version,
      models: [{
        name: wakeWordName(config),
        description: model ? `${config.wake.phrase} (${path.basename(model)})` : config.wake.phrase,
        attribution: porcupine ? { name: 'Picovoice', url: 'https://github.com/Picovoice/porcupine' } : { name: 'dscripka', url: 'https://github.com/dscripka/openWakeWord' },
        installed: model === undefined || fs.existsSync(model),
        version: null,
        languages: [language.split(/[-_]/)[0]],
        phrase: config.wake.phrase,
      }],
    }];
  }
  return info;
}

/** Piper voices are named language_REGION-name-quality ("en_GB-alan-medium"); others get the speech language. */
function piperLanguage(voiceName: string, fallback: string): string {
  return /^([a-z]{2,3}_[A-Z]{2})-/.exec(voiceName)?.[1] ?? fallback;
}
