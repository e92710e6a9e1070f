import type { JarvisConfig } from '../../config/schema.ts';
import type { AudioSink, AudioSource, Synthesizer, WakeWordDetector } from '../../voice/ports.ts';
import { SileroVad } from '../../voice/vad/silero.ts';
import { OpenWakeWordDetector } from '../../voice/wake/openwakeword.ts';
import { PorcupineDetector } from '../../voice/wake/porcupine.ts';
import { WhisperTranscriber } from '../../voice/stt/whisper.ts';
import { EspeakSynthesizer } from '../../voice/tts/espeak.ts';
import { createSynthesizer } from '../../voice/tts/select.ts';
import type { AssistantEngines } from '../pipeline/assistant.ts';
import { describeError } from '../../base/errors.ts';
import { LiveModels } from '../live-models/live-models.ts';
import type { Logger } from '../../base/log.ts';
import { EchoGuard } from '../pipeline/echo-guard.ts';
import { liveModelSelector, liveModelStatus } from '../live-models/skill-providers.ts';
import { SkillsRuntime } from '../skills/skills-runtime.ts';
import type { Problem } from '../protocol/state.ts';

/**
 * Builds every engine the configuration asks for and loads the models once, in parallel. A model that cannot be
 * loaded does not stop JARVIS: it becomes a Problem (what is wrong, how to fix it) and the stage fails its turns
 * with a spoken apology until the file is there, while everything else keeps working. Only a wake word or VAD
 * that cannot run at all is fatal, since without them there is nothing to listen with.
 */

export interface BuiltEngines extends AssistantEngines {
  /** The model manager: swaps models on `jarvis models use` / HUD / voice, first-run downloads (models/). */
  models: LiveModels;
  /** Timers, notes, speaker level and the local intents in front of the LLM (core/skills); off: skills.enabled. */
  skills?: SkillsRuntime;
  problems: Problem[];
  /** One line per stage for the start-up log. */
  summaries: string[];
  dispose(): Promise<void>;
}

/**
 * `forEcho`: the detector that scores our own playback. It is more sensitive than the microphone's, so that a
 * half-heard wake word in the answer is still recognised as ours.
 */
export async function createWakeDetector(config: JarvisConfig, log: Logger, forEcho = false): Promise<WakeWordDetector> {
  if (config.wake.engine === 'porcupine') {
    return PorcupineDetector.create({
      accessKey: config.wake.porcupine.accessKey,
      sensitivity: config.wake.threshold,
      ...(config.wake.porcupine.keywordPath ? { keywordPath: config.wake.porcupine.keywordPath } : {}),
    });
  }
  log.debug('loading openWakeWord');
  const threshold = forEcho ? config.wake.threshold * 0.6 : config.wake.threshold;
  return OpenWakeWordDetector.create({ threshold, ...(config.wake.model ? { modelPath: config.wake.model } : {}) });
}

export async function buildEngines(
  config: JarvisConfig,
  log: Logger,
  io: { source: AudioSource; sink: AudioSink },
): Promise<BuiltEngines> {
  const problems: Problem[] = [];
  const summaries: string[] = [];
  const disposers: (() => Promise<void>)[] = [];
  const problem = (id: string, error: unknown, blocking = false) => {
    const { message, fix } = describeError(error);
    problems.push({ id, message, fix: fix ?? 'See the log for details.', blocking });
  };

  const [wake, reference, vad] = await Promise.all([
    createWakeDetector(config, log),
    // A second detector hears what the speaker plays, to recognise our own voice (EchoGuard).
    createWakeDetector(config, log, true),
    SileroVad.create(config.vad.model),
  ]);
  disposers.push(() => wake.dispose(), () => vad.dispose());
  summaries.push(`wake word: ${wake.engine} "${wake.keyword}" (threshold ${config.wake.threshold})`, `VAD: ${vad.engine}`);

  // The model files come from `jarvis models use` when a model was chosen there, else from the config.
  const models = new LiveModels(config, log);
  const chosen = models.effectiveConfig;
  const whisper = new WhisperTranscriber({
    model: chosen.stt.model,
    threads: config.stt.threads,
    language: config.stt.language,
    useGpu: config.stt.useGpu,
    log,
  });
  const transcriber = models.wrapTranscriber(whisper);
  disposers.push(() => transcriber.dispose());
  const responder = models.responder;
  disposers.push(() => models.dispose());
  responder.subscribe((event) => {
    if (event.type === 'restarted') log.warn({ ms: Math.round(event.ms), attempt: event.attempt }, `LLM worker restarted: ${event.summary}`);
    else if (event.type === 'worker-exit') log.error({ during: event.during }, `LLM worker stopped: ${event.detail}`);
    else if (event.type === 'restart-failed') log.error({ err: describeError(event.error) }, 'LLM worker restart failed');
  });

  const voice = createSynthesizer(chosen.tts, log);
  let synthesizer: Synthesizer = voice.synthesizer;
  const espeak = new EspeakSynthesizer({ voice: config.tts.espeakVoice, rate: config.tts.rate });
  if (voice.fix) problems.push({ id: 'tts-voice', message: voice.reason, fix: voice.fix, blocking: false });

  // Everyday requests are answered by local skills before (and without) the LLM; the LLM may call them too.
  const skills = config.skills.enabled ? new SkillsRuntime(config, log) : undefined;
  if (skills) {
    problems.push(...skills.problems);
    skills.providers.models = liveModelStatus(models);
    skills.providers.modelSelector = liveModelSelector(models);
    disposers.push(async () => skills.dispose());
  }

  const loads = await Promise.allSettled([
    transcriber.load().then(() => summaries.push(`STT: ${whisper.description}`)),
    responder.load().then((info) => {
      summaries.push(`LLM: ${info.summary}`);
      if (info.warning) problems.push({ id: 'llm-gpu-fallback', ...info.warning, blocking: false });
    }),
    synthesizer.load().then(() => summaries.push(`TTS: ${voice.reason}`)),
  ]);
  const [stt, llm, tts] = loads;
  if (stt.status === 'rejected') problem('stt-model', stt.reason);
  if (llm.status === 'rejected') problem('llm-model', llm.reason);
  if (tts.status === 'rejected') {
    // A broken Piper voice must not leave JARVIS mute.
    problem('tts-voice', tts.reason);
    await synthesizer.dispose().catch(() => {});
    synthesizer = espeak;
    await espeak.load().catch((error: unknown) => problem('tts-espeak', error));
    summaries.push(`TTS: espeak-ng voice ${config.tts.espeakVoice} (the configured voice failed to load)`);
  }
  const fallbackSynthesizer = synthesizer === espeak ? undefined : espeak;
  const speech = models.wrapSynthesizer(synthesizer);
  disposers.push(() => speech.dispose());
  models.watch();

  const echoGuard = new EchoGuard(io.sink, reference);
  disposers.push(() => echoGuard.dispose());
  summaries.push(`audio in: ${io.source.description}`, `audio out: ${io.sink.description}`);

  return {
    ...io,
    wake,
    vad,
    transcriber,
    responder: skills ? skills.responder(responder) : responder,
    synthesizer: speech,
    ...(fallbackSynthesizer ? { fallbackSynthesizer } : {}),
    models,
    ...(skills ? { skills } : {}),
    echoGuard,
    problems,
    summaries,
    async dispose() {
      // Reverse order: the echo guard listens to the sink, the sink is closed by its owner.
      for (const dispose of disposers.reverse()) {
        await dispose().catch((error: unknown) => log.warn({ err: describeError(error) }, 'error while shutting down'));
      }
    },
  };
}
