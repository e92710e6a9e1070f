import type { JarvisConfig } from '../../config/schema.ts';
import { RunEventBus } from '../../core/events.ts';
import { type RunEvent } from '../../core/protocol/run-events.ts';
import { SpeechOutput } from '../../core/pipeline/speech-output.ts';
import { toSpokenText } from '../../core/sentences.ts';
import { VirtualSink } from '../../voice/audio/virtual-sink.ts';
import { createSynthesizer } from '../../voice/tts/select.ts';
import { TTS_SENTENCES } from '../lib/corpus.ts';
import { alternately, msTaken } from '../lib/stats.ts';

/**
 * Text to speech per sentence through JARVIS's SpeechOutput (the sentence event → tts-start/tts-end → playback-start,
 * as in a turn, on an instant virtual sink so playback never queues) against the same voice's synthesize() called
 * directly, alternating which goes first. The voice is the one the daemon would pick (Piper, else espeak-ng).
 */

export interface TtsSample {
  readonly text: string;
  /** tts-start → tts-end. */
  readonly synthesisMs: number;
  /** sentence handed over → playback-start: when its first audio goes out. */
  readonly firstAudioMs: number;
  readonly audioMs: number;
  readonly rawMs: number;
}

export interface TtsResult {
  readonly samples: TtsSample[];
  readonly engine: string;
  readonly reason: string;
}

const WARMUP = 2;

export async function measureTts(config: JarvisConfig, runs: number): Promise<TtsResult> {
  const choice = createSynthesizer(config.tts);
  const voice = choice.synthesizer;
  await voice.load();
  const bus = new RunEventBus();
  const sink = new VirtualSink({ speed: 0 });
  const throughJarvis = async (text: string) => {
    const run = bus.startRun('text');
    const output = new SpeechOutput({ synthesizer: voice, sink }, run, new AbortController().signal);
    const handedOver = run.emit({ type: 'sentence', index: 0, text });
    output.say(text);
    await output.finish();
    const end = run.events.find((e): e is Extract<RunEvent, { type: 'tts-end' }> => e.type === 'tts-end');
    const playback = run.first('playback-start');
    if (!end || !playback) throw new Error(`"${text}" was not spoken: ${run.events.map((e) => e.type).join(', ')}`);
    return { synthesisMs: end.ms, firstAudioMs: playback.t - handedOver.t, audioMs: end.audioMs };
  };
  const direct = (text: string) => msTaken(() => voice.synthesize({ text: toSpokenText(text) }));
  try {
    const samples: TtsSample[] = [];
    for (let i = 0; i < runs + WARMUP; i++) {
      const text = TTS_SENTENCES[i % TTS_SENTENCES.length]!;
      const [jarvis, rawMs] = await alternately(i, () => throughJarvis(text), () => direct(text));
      if (i >= WARMUP) samples.push({ text, ...jarvis, rawMs });
    }
    // Folders dropped: the voice's file name says which it is.
    return { samples, engine: voice.engine, reason: choice.reason.replace(/\/\S*\//g, '') };
  } finally {
    await voice.dispose();
    await sink.close();
  }
}
