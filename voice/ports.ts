/**
 * One interface per pipeline stage. Engines live beside these files (voice/wake, voice/vad, voice/stt,
 * voice/tts, voice/audio, core/llm) and are chosen by config; every engine can be run and tested alone.
 *
 * Audio convention: capture is mono signed 16-bit PCM at 16 kHz (CAPTURE_SAMPLE_RATE), the rate every
 * speech model here expects. Synthesized audio carries its own sample rate (Piper voices are 16 or 22.05 kHz).
 */

export const CAPTURE_SAMPLE_RATE = 16_000;

/** A block of mono 16-bit PCM with its sample rate. */
export interface PcmAudio {
  readonly samples: Int16Array;
  readonly sampleRate: number;
}

/** Where the listener's audio comes from: the microphone, a recording, stdin or a phone. */
export interface AudioSource {
  /** Human-readable description for logs and `jarvis doctor` ("default microphone (arecord)"). */
  readonly description: string;
  /**
   * Mono 16 kHz PCM chunks of any length, in order, until the source ends (a file's end) or `signal` aborts.
   * Throws `AudioDeviceError` when the device cannot be opened or goes away.
   */
  chunks(signal: AbortSignal): AsyncIterable<Int16Array>;
}

/** Where speech goes: the speaker or a WAV file. */
export interface AudioSink {
  readonly description: string;
  /**
   * Plays `audio` after whatever is already queued and resolves once it has been heard (for a real device) or
   * its real-time duration has passed (for a virtual sink). Rejects with `PlaybackStoppedError` if `stop()`
   * cuts it off.
   */
  play(audio: PcmAudio): Promise<void>;
  /** Silences the sink at once and drops everything queued. */
  stop(): void;
  /** Listeners get each chunk as it starts playing: used to recognise our own voice coming back. */
  onPlayed(listener: (audio: PcmAudio) => void): () => void;
  close(): Promise<void>;
}

export interface WakeDetection {
  readonly keyword: string;
  /** Engine confidence in [0, 1] (1 for engines that give no score). */
  readonly score: number;
}

/** Spots the wake word in a continuous 16 kHz stream. */
export interface WakeWordDetector {
  readonly engine: string;
  readonly keyword: string;
  /**
   * Feeds the next audio and returns the detections whose score reached the threshold, in order. Detections
   * are per engine frame; the caller applies the refractory time.
   */
  process(samples: Int16Array): Promise<WakeDetection[]>;
  /** Highest score seen since the last call (for logs and `--json` replays of near misses). */
  takePeakScore(): number;
  /** Forgets buffered audio, e.g. after a detection, so one utterance cannot fire twice. */
  reset(): void;
  dispose(): Promise<void>;
}

/** Speech probability per fixed-size frame of a 16 kHz stream. */
export interface VoiceActivityDetector {
  readonly engine: string;
  /** Samples per frame the probabilities refer to. */
  readonly frameSamples: number;
  /** Feeds audio; returns one speech probability in [0, 1] per completed frame. */
  process(samples: Int16Array): Promise<number[]>;
  reset(): void;
  dispose(): Promise<void>;
}

export interface Transcript {
  readonly text: string;
  /** Audio length in ms that was transcribed. */
  readonly audioMs: number;
}

/** Speech to text for one finished utterance. */
export interface Transcriber {
  readonly engine: string;
  /** Loads the model; idempotent. Called at start so the first turn does not pay for it. */
  load(): Promise<void>;
  transcribe(pcm16k: Int16Array, signal?: AbortSignal): Promise<Transcript>;
  dispose(): Promise<void>;
}

export interface SpeechRequest {
  readonly text: string;
  readonly signal?: AbortSignal;
  /** A voice that stands in for another (tts/fallback.ts) says here that it did, and why. */
  readonly onFallback?: (failure: { readonly from: string; readonly to: string; readonly error: unknown }) => void;
}

/** Text to speech for one sentence. */
export interface Synthesizer {
  readonly engine: string;
  load(): Promise<void>;
  synthesize(request: SpeechRequest): Promise<PcmAudio>;
  dispose(): Promise<void>;
}
