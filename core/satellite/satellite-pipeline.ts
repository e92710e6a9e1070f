import { describeError } from '../../base/errors.ts';
import type { Logger } from '../../base/log.ts';
import type { JarvisConfig } from '../../config/schema.ts';
import { CAPTURE_SAMPLE_RATE, type VoiceActivityDetector, type WakeWordDetector } from '../../voice/ports.ts';
import type { Assistant, SatelliteRequest } from '../pipeline/assistant.ts';
import type { SpeechOutputDeps } from '../pipeline/speech-output.ts';
import { VoiceLoop } from '../pipeline/voice-loop.ts';
import type { RunEvent, SatelliteRoom } from '../protocol/run-events.ts';
import { AudioStreamConverter, readAudioFormat, sameFormat, type AudioFormat } from '../wyoming/audio-format.ts';
import type { EventData, WyomingEvent } from '../wyoming/framing.ts';
import { wakeWordName } from '../wyoming/info.ts';

/**
 * One `run-pipeline` of a satellite, as Home Assistant runs it (rhasspy/wyoming's pipeline.py stages): from "wake"
 * (the satellite streams everything; JARVIS listens for its own wake word in it) or from "asr" (the satellite heard
 * its wake word and streams what follows), to "handle" (an answer, no voice) or "tts" (the answer spoken there).
 * The satellite's audio goes through a VoiceLoop on the satellite's own wake word detector and VAD, so its end is
 * found exactly as on JARVIS's own microphone; the request is then a turn of the assistant, in that room.
 *
 * What the satellite is told, as Home Assistant tells it: `detection` (JARVIS's wake word heard), `voice-started`,
 * `voice-stopped`, `transcript` (after which wyoming-satellite stops streaming), `synthesize` for each sentence,
 * the answer's audio (SatelliteSink), and `error` when the run fails or nothing was said.
 */

const STARTS = ['wake', 'asr'] as const;
const ANSWERING_ENDS = ['intent', 'handle', 'tts'] as const;
type Start = (typeof STARTS)[number];

export interface PipelineDeps {
  readonly assistant: Assistant;
  readonly room: SatelliteRoom;
  /** The satellite's speaker and the daemon's voice; none: answers are text only. */
  readonly voice: SpeechOutputDeps | undefined;
  readonly wake: WakeWordDetector;
  readonly vad: VoiceActivityDetector;
  readonly config: JarvisConfig;
  readonly send: (event: WyomingEvent) => Promise<void>;
  readonly log: Logger;
}

/** A run-pipeline this link cannot run, said back to the satellite in an `error` event. */
export class UnsupportedPipelineError extends Error {
  readonly code = 'unsupported-pipeline';
}

export class SatellitePipeline {
  readonly start: Start;
  readonly restartOnEnd: boolean;
  readonly #speaks: boolean;
  readonly #loop: VoiceLoop;
  #converter: AudioStreamConverter | undefined;
  #request: SatelliteRequest | undefined;
  /** 'waiting' for the wake word or speech; 'answering' once the request ended; 'ended' when the run did. */
  #phase: 'waiting' | 'answering' | 'ended' = 'waiting';
  #told = false;
  readonly ended: Promise<void>;
  #end!: () => void;

  /** Throws UnsupportedPipelineError for stages JARVIS does not run (e.g. starting at tts, or ending at asr). */
  constructor(
    data: EventData,
    private readonly deps: PipelineDeps,
  ) {
    const start = data.start_stage;
    const end = data.end_stage;
    if (!STARTS.includes(start as Start)) {
      throw new UnsupportedPipelineError(`start_stage ${JSON.stringify(start)}: JARVIS runs pipelines that start at "wake" or "asr" (the satellite streams audio)`);
    }
    if (!ANSWERING_ENDS.includes(end as (typeof ANSWERING_ENDS)[number])) {
      throw new UnsupportedPipelineError(`end_stage ${JSON.stringify(end)}: JARVIS answers every request, so it runs pipelines that end at "handle" or "tts"`);
    }
    this.start = start as Start;
    this.restartOnEnd = data.restart_on_end === true;
    this.#speaks = end === 'tts';
    this.ended = new Promise((resolve) => (this.#end = resolve));
    const { vad } = deps.config;
    this.#loop = new VoiceLoop(
      deps.wake,
      deps.vad,
      {
        threshold: vad.threshold,
        hangoverMs: vad.hangoverMs,
        minSpeechMs: vad.minSpeechMs,
        maxUtteranceMs: vad.maxUtteranceMs,
        noSpeechTimeoutMs: vad.noSpeechTimeoutMs,
        refractoryMs: deps.config.wake.refractoryMs,
      },
      {
        // Named as JARVIS's Wyoming server names its wake word (describe → info), e.g. "hey_jarvis".
        onWake: (detection, audioMs) => this.#heard(wakeWordName(deps.config), { keyword: detection.keyword, score: detection.score, engine: deps.wake.engine }, audioMs),
        onSpeechStart: () => {
          this.#request?.run.emit({ type: 'vad-start' });
          void deps.send({ type: 'voice-started', data: { timestamp: Math.round(this.#loop.audioMs) } });
        },
        onRequest: (audio, info) => this.#answer(audio, info),
        onNoSpeech: (waitedMs) => {
          void this.#tell({ type: 'error', data: { text: `nothing was said within ${Math.round(waitedMs / 1000)} s of the wake word`, code: 'stt-no-text-recognized' } });
          this.#request?.cancel('no-speech', waitedMs);
          this.#finish();
        },
        onFollowUpExpired: () => {},
        onShortUtterance: () => {},
      },
    );
    deps.wake.reset();
    // From "asr", the satellite's own wake word opened the request: what it streams is the request.
    if (this.start === 'asr') this.#heard(undefined, undefined, 0);
  }

  /** One of the satellite's audio events (audio-start, audio-chunk, audio-stop). */
  async audio(event: WyomingEvent): Promise<void> {
    if (this.#phase !== 'waiting') return; // the request is being answered: the rest is not listened to
    if (event.type === 'audio-stop') {
      // The satellite stopped streaming (wyoming-satellite's VAD timed out): what it sent is all there is.
      const rest = this.#converter?.end();
      if (rest?.length) await this.#loop.process(rest);
      this.#abandon('interrupted');
      return;
    }
    const format = readAudioFormat(event.data);
    if (typeof format === 'string') throw new UnsupportedPipelineError(`${event.type}: ${format}`);
    const converter = this.#converterFor(format);
    if (event.type !== 'audio-chunk' || !event.payload) return;
    const samples = converter.push(event.payload);
    if (samples.length > 0) await this.#loop.process(samples);
  }

  /** The satellite went away, or the link closes: the request is dropped, the answer stopped. */
  abandon(): void {
    this.#abandon('interrupted');
  }

  #abandon(outcome: 'interrupted'): void {
    if (this.#phase === 'ended') return;
    this.#request?.cancel(outcome);
    this.#finish();
  }

  #converterFor(format: AudioFormat): AudioStreamConverter {
    if (!this.#converter || !sameFormat(this.#converter.format, format)) this.#converter = new AudioStreamConverter(format, CAPTURE_SAMPLE_RATE);
    return this.#converter;
  }

  /** The wake word was heard (by JARVIS on the stream, `name` set; or by the satellite): the request starts. */
  #heard(name: string | undefined, wake: { keyword: string; score: number; engine: string } | undefined, audioMs: number): void {
    const { assistant, room, voice } = this.deps;
    const request = assistant.beginSatelliteRequest(room, this.#speaks ? voice : undefined, wake);
    this.#request = request;
    this.deps.log.info({ satellite: room.name, run: request.run.runId, start: this.start }, 'satellite request');
    if (name !== undefined) void this.deps.send({ type: 'detection', data: { name, timestamp: Math.round(audioMs) } });
    const unsubscribe = assistant.bus.subscribe((event) => {
      if (event.runId !== request.run.runId) return;
      this.#report(event);
      if (event.type === 'run-end') {
        unsubscribe();
        this.#finish();
      }
    });
    this.#loop.capture();
  }

  #answer(audio: Int16Array, info: { reason: 'silence' | 'max-length' | 'source-ended'; speechMs: number }): void {
    const request = this.#request;
    if (!request || this.#phase !== 'waiting') return;
    this.#phase = 'answering';
    void this.deps.send({ type: 'voice-stopped', data: { timestamp: Math.round(this.#loop.audioMs) } });
    void request.finish(audio, { includesWakeWord: this.start === 'wake', ...info }).catch((error: unknown) => {
      this.deps.log.warn({ satellite: this.deps.room.name, err: describeError(error) }, 'satellite turn failed');
    });
  }

  /** The run's progress, told to the satellite as Home Assistant tells it. */
  #report(event: RunEvent): void {
    switch (event.type) {
      case 'stt-end':
        void this.#tell({ type: 'transcript', data: { text: event.text } });
        return;
      case 'tts-start':
        if (this.#speaks) void this.deps.send({ type: 'synthesize', data: { text: event.text } });
        return;
      case 'error':
        void this.#tell({ type: 'error', data: { text: event.fix ? `${event.message}. ${event.fix}` : event.message, code: `${event.stage}-${event.code}` } });
        return;
      case 'run-end':
        // Stopped before its transcript (barge-in, the stop command): the satellite still streams, until told.
        if (!this.#told) void this.#tell({ type: 'error', data: { text: `the request ended: ${event.outcome}`, code: event.outcome } });
        return;
    }
  }

  /** A transcript or an error: either one ends the satellite's streaming (wyoming-satellite goes back to its wake word). */
  #tell(event: WyomingEvent): Promise<void> {
    this.#told = true;
    return this.deps.send(event);
  }

  #finish(): void {
    if (this.#phase === 'ended') return;
    this.#phase = 'ended';
    this.#end();
  }
}
