import { JarvisError } from '../../base/errors.ts';
import type { Logger } from '../../base/log.ts';
import type { JarvisConfig } from '../../config/schema.ts';
import { concatInt16 } from '../../voice/pcm.ts';
import { CAPTURE_SAMPLE_RATE, type Synthesizer, type Transcriber, type WakeWordDetector } from '../../voice/ports.ts';
import { resampleInt16 } from '../../voice/wav.ts';
import { SentenceSplitter, toSpokenText } from '../sentences.ts';
import { AudioStreamConverter, int16ToBytes, readAudioFormat, sameFormat, type AudioFormat } from './audio-format.ts';
import type { EventData, WyomingEvent } from './framing.ts';
import { describeServices, isOurWakeWord, wakeWordName } from './info.ts';

/**
 * One Wyoming connection's conversation, event by event, in the flows of rhasspy/wyoming's README:
 *   describe → info
 *   transcribe, audio-start, audio-chunk…, audio-stop → transcript
 *   synthesize → audio-start, audio-chunk…, audio-stop (each sentence streamed as soon as it is synthesized)
 *   detect, audio-start, audio-chunk… → detection (each time the wake word is heard), audio-stop → not-detected
 *   ping → pong
 * Events of other services are ignored, as Wyoming peers do. A request that cannot be served throws a JarvisError;
 * the connection answers it with an `error` event and ends.
 */

export interface WyomingEngines {
  readonly transcriber?: Transcriber;
  readonly synthesizer?: Synthesizer;
  /** A new detector: each connection gets its own, since a detector holds the state of the stream it hears. */
  readonly createWakeDetector?: () => Promise<WakeWordDetector>;
}

export interface SessionContext {
  readonly engines: WyomingEngines;
  /** The config as it is now (a model switched by `jarvis models use` shows in `info` at once). */
  readonly config: () => JarvisConfig;
  readonly log: Logger;
  /** Writes one event; resolves once the socket took it (back-pressure for streamed audio). */
  readonly send: (event: WyomingEvent) => Promise<void>;
  /** Aborted when the connection goes: engines stop what they were doing for it. */
  readonly signal: AbortSignal;
  /** Audio one transcribe request may send (it is held until audio-stop). */
  readonly maxAudioSeconds: number;
}

/** Samples per audio-chunk sent (wyoming-piper's default, about 46 ms at 22 050 Hz). */
const SAMPLES_PER_CHUNK = 1024;

interface AudioRequest {
  /** Set by audio-start, or by the first chunk when a client sends none. */
  stream?: AudioStreamConverter;
  /** The audio-start's timestamp: detection timestamps count from it. */
  startMs: number;
}

interface TranscribeRequest extends AudioRequest {
  readonly kind: 'transcribe';
  readonly audio: Int16Array[];
}

interface DetectRequest extends AudioRequest {
  readonly kind: 'detect';
  detected: boolean;
  /** Audio time of the last detection; another within wake.refractoryMs is the same utterance. */
  lastDetectionMs: number;
}

export class WyomingSession {
  #request: TranscribeRequest | DetectRequest | undefined;
  #wake: Promise<WakeWordDetector> | undefined;

  constructor(private readonly context: SessionContext) {}

  async handle(event: WyomingEvent): Promise<void> {
    const { data } = event;
    switch (event.type) {
      case 'describe':
        return this.#send('info', describeServices(this.context.config(), this.#served()));
      case 'ping':
        return this.#send('pong', typeof data.text === 'string' ? { text: data.text } : {});
      case 'transcribe':
        return this.#startTranscribe(data);
      case 'detect':
        return this.#startDetect(data);
      case 'synthesize':
        return this.#synthesize(data);
      case 'audio-start':
        return this.#audioStart(data);
      case 'audio-chunk':
        return this.#audioChunk(data, event.payload ?? new Uint8Array(0));
      case 'audio-stop':
        return this.#audioStop();
      default:
        this.context.log.debug({ type: event.type }, 'wyoming: event ignored (not a service served here)');
    }
  }

  async dispose(): Promise<void> {
    this.#request = undefined;
    const wake = await this.#wake?.catch(() => undefined);
    await wake?.dispose();
  }

  #served() {
    const { transcriber, synthesizer, createWakeDetector } = this.context.engines;
    return { asr: transcriber !== undefined, tts: synthesizer !== undefined, wake: createWakeDetector !== undefined };
  }

  #send(type: string, data: EventData = {}, payload?: Uint8Array): Promise<void> {
    return this.context.send(payload ? { type, data, payload } : { type, data });
  }

  #startTranscribe(data: EventData): void {
    if (!this.context.engines.transcriber) throw notServed('speech to text (transcribe)');
    const ours = this.context.config().stt.language;
    if (typeof data.language === 'string' && !sameLanguage(data.language, ours)) {
      throw new JarvisError('unsupported-language', `speech to text here is in "${ours}", not "${data.language}"`, `Pick "${ours}" as the speech-to-text language in Home Assistant, or set stt.language (and a Whisper model for it) in JARVIS.`);
    }
    this.#request = { kind: 'transcribe', audio: [], startMs: 0 };
  }

  async #startDetect(data: EventData): Promise<void> {
    const { createWakeDetector } = this.context.engines;
    if (!createWakeDetector) throw notServed('wake word detection (detect)');
    const config = this.context.config();
    const names = Array.isArray(data.names) ? data.names.filter((n): n is string => typeof n === 'string') : [];
    if (names.length > 0 && !names.some((name) => isOurWakeWord(config, name))) {
      throw new JarvisError('unknown-wake-word', `this server detects "${wakeWordName(config)}", not ${names.map((n) => `"${n}"`).join(', ')}`, `Choose the wake word "${wakeWordName(config)}" in Home Assistant's voice assistant settings.`);
    }
    this.#wake ??= createWakeDetector();
    (await this.#wake).reset();
    this.#request = { kind: 'detect', detected: false, lastDetectionMs: -Infinity, startMs: 0 };
  }

  #audioStart(data: EventData): void {
    const request = this.#openRequest('audio-start');
    const format = audioFormat(data, 'audio-start');
    request.stream = new AudioStreamConverter(format, CAPTURE_SAMPLE_RATE);
    request.startMs = typeof data.timestamp === 'number' ? data.timestamp : 0;
    if (request.kind === 'transcribe') request.audio.length = 0;
  }

  async #audioChunk(data: EventData, payload: Uint8Array): Promise<void> {
    const request = this.#openRequest('audio-chunk');
    const format = audioFormat(data, 'audio-chunk');
    request.stream ??= new AudioStreamConverter(format, CAPTURE_SAMPLE_RATE);
    if (!sameFormat(format, request.stream.format)) {
      throw new JarvisError('audio-format-changed', `an audio-chunk is ${describeFormat(format)} but its audio-start said ${describeFormat(request.stream.format)}`, 'Send every chunk of a stream in the format its audio-start names.');
    }
    const samples = request.stream.push(payload);
    if (request.kind === 'transcribe') {
      const max = this.context.maxAudioSeconds;
      if (request.stream.seconds > max) {
        throw new JarvisError('too-much-audio', `more than ${max} s of audio for one transcript`, 'End each request with audio-stop sooner, or raise wyoming.limits.maxAudioSeconds.');
      }
      request.audio.push(samples);
      return;
    }
    await this.#detect(request, samples, typeof data.timestamp === 'number' ? data.timestamp : undefined);
  }

  async #audioStop(): Promise<void> {
    const request = this.#openRequest('audio-stop');
    this.#request = undefined;
    const rest = request.stream?.end() ?? new Int16Array(0);
    if (request.kind === 'detect') {
      await this.#detect(request, rest, undefined);
      if (!request.detected) await this.#send('not-detected');
      return;
    }
    const pcm = concatInt16(...request.audio, rest);
    // No audio, no words: not worth a Whisper run.
    const { text } = pcm.length === 0 ? { text: '' } : await this.context.engines.transcriber!.transcribe(pcm, this.context.signal);
    this.context.log.debug({ audioMs: Math.round((pcm.length / CAPTURE_SAMPLE_RATE) * 1000), chars: text.length }, 'wyoming: transcribed');
    await this.#send('transcript', { text: text.trim(), language: this.context.config().stt.language });
  }

  async #detect(request: DetectRequest, samples: Int16Array, chunkTimestamp: number | undefined): Promise<void> {
    if (samples.length === 0) return;
    const detector = await this.#wake!;
    const detections = await detector.process(samples);
    const stream = request.stream!;
    const heardMs = stream.seconds * 1000;
    if (detections.length === 0 || heardMs - request.lastDetectionMs < this.context.config().wake.refractoryMs) return;
    request.detected = true;
    request.lastDetectionMs = heardMs;
    // One utterance must not fire twice: the detector forgets what it has heard.
    detector.reset();
    this.context.log.info({ score: Number(detections[0]!.score.toFixed(3)) }, 'wyoming: wake word detected');
    await this.#send('detection', { name: wakeWordName(this.context.config()), timestamp: chunkTimestamp ?? Math.round(request.startMs + heardMs) });
  }

  async #synthesize(data: EventData): Promise<void> {
    const { synthesizer } = this.context.engines;
    if (!synthesizer) throw notServed('text to speech (synthesize)');
    const text = typeof data.text === 'string' ? toSpokenText(data.text) : '';
    const splitter = new SentenceSplitter();
    const sentences = [...splitter.push(text), ...splitter.flush()];
    if (sentences.length === 0) throw new JarvisError('no-text', 'synthesize has no words in "text"', 'Send the words to speak in the "text" of the synthesize event.');
    let rate: number | undefined;
    let sentMs = 0;
    // Each sentence is sent as soon as it is synthesized: the client starts playing while the next is made.
    for (const sentence of sentences) {
      const audio = await synthesizer.synthesize({ text: sentence, signal: this.context.signal });
      if (rate === undefined) {
        rate = audio.sampleRate;
        await this.#send('audio-start', { rate, width: 2, channels: 1, timestamp: 0 });
      }
      // A stand-in voice (espeak-ng after a Piper failure) may speak at another rate than the stream's.
      const samples = resampleInt16(audio, rate).samples;
      for (let at = 0; at < samples.length; at += SAMPLES_PER_CHUNK) {
        const chunk = samples.subarray(at, at + SAMPLES_PER_CHUNK);
        await this.#send('audio-chunk', { rate, width: 2, channels: 1, timestamp: Math.round(sentMs) }, int16ToBytes(chunk));
        sentMs += (chunk.length / rate) * 1000;
      }
    }
    await this.#send('audio-stop', { timestamp: Math.round(sentMs) });
  }

  #openRequest(type: string): TranscribeRequest | DetectRequest {
    if (!this.#request) {
      throw new JarvisError('no-request', `${type} came without a transcribe or detect before it`, 'Send transcribe (speech to text) or detect (wake word) first, then audio-start, audio-chunk… and audio-stop.');
    }
    return this.#request;
  }
}

function notServed(service: string): JarvisError {
  return new JarvisError('not-served', `${service} is not served by this JARVIS`, 'Send describe to see what is served; `jarvis start` serves what its engines can do.');
}

function audioFormat(data: EventData, type: string): AudioFormat {
  const format = readAudioFormat(data);
  if (typeof format === 'string') throw new JarvisError('bad-audio-format', `${type}: ${format}`, 'Send PCM audio with rate, width (bytes per sample) and channels, e.g. 16000, 2, 1.');
  return format;
}

const describeFormat = (f: AudioFormat) => `${f.rate} Hz, ${f.width * 8}-bit, ${f.channels} channel(s)`;

/** "en" matches "en", "en-US", "en_GB": Whisper's languages have no regions. */
function sameLanguage(asked: string, ours: string): boolean {
  const primary = (tag: string) => tag.toLowerCase().split(/[-_]/)[0];
  return primary(asked) === primary(ours);
}
