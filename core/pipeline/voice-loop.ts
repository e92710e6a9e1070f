import { type AudioSource, CAPTURE_SAMPLE_RATE, type VoiceActivityDetector, type WakeDetection, type WakeWordDetector } from '../../voice/ports.ts';
import { concatInt16, FrameSplitter, msToSamples, samplesToMs } from '../../voice/pcm.ts';
import { Endpointer, type EndpointEvent, type EndpointerOptions } from '../../voice/vad/endpointer.ts';

/**
 * The always-on listening loop. It reads the audio source chunk by chunk, runs the wake word detector on all of
 * it, and runs the VAD only when a mode needs it (the VAD costs as much CPU as the wake word does):
 *
 *   wake        only the wake word                                     (idle)
 *   capture     record the request until the endpointer says it ended   (listening)
 *   follow-up   wait for speech without the wake word, until a deadline (idle, right after an answer)
 *   busy        wake word for barge-in, plus short utterances that may be a stop phrase (thinking, speaking)
 *
 * Time is audio time (samples consumed), so a recording replayed faster than real time behaves like the live
 * microphone. The loop reports to its handlers and never decides what a turn does.
 */

export type LoopMode = 'wake' | 'capture' | 'follow-up' | 'busy';

export interface VoiceLoopHandlers {
  /** Awaited: the loop holds the audio until the handler has decided (e.g. whether it was our own voice). */
  onWake(detection: WakeDetection, audioMs: number): void | Promise<void>;
  onSpeechStart(trigger: 'wake' | 'follow-up'): void;
  onRequest(audio: Int16Array, info: { reason: 'silence' | 'max-length' | 'source-ended'; speechMs: number }): void;
  onNoSpeech(waitedMs: number): void;
  onFollowUpExpired(): void;
  /** A short utterance heard while busy: maybe "stop". Not awaited: checking it must not hold the audio. */
  onShortUtterance(audio: Int16Array): void | Promise<void>;
  /**
   * The request being captured paused for `partialAfterMs`: `audio` is all of it so far. Once per pause; the
   * handler may end the request at once with requireSilence().
   */
  onRequestPause?(audio: Int16Array, at: RequestPoint): void;
  /** The person spoke on after a pause that was reported. */
  onSpeechResumed?(): void;
  /** Another `partialEveryMs` of the request was spoken without a pause. */
  onRequestProgress?(audio: Int16Array, at: RequestPoint): void;
}

/** Where in a request something was heard: its speech so far and the silence after it. */
export interface RequestPoint {
  readonly speechMs: number;
  readonly silentMs: number;
}

export interface VoiceLoopOptions {
  threshold: number;
  hangoverMs: number;
  minSpeechMs: number;
  maxUtteranceMs: number;
  noSpeechTimeoutMs: number;
  refractoryMs: number;
  /** Report a pause in a request this long (onRequestPause); none: no reports. */
  partialAfterMs?: number;
  /** Report each further stretch of speech this long (onRequestProgress); none: no reports. */
  partialEveryMs?: number;
}

/** Audio kept from before a wake detection: the wake word itself, for the transcript check. */
export const WAKE_CONTEXT_MS = 2000;
/** Speech kept from before the VAD's onset, so the first syllable of a follow-up is not lost. */
const PRE_ROLL_MS = 400;
/** Longest utterance considered a stop phrase while busy; longer speech is our own voice or conversation. */
const SHORT_UTTERANCE_MAX_MS = 2500;

export class VoiceLoop {
  #mode: LoopMode = 'wake';
  #samples = 0;
  #lastWakeAtMs = -Infinity;
  #endpointer: Endpointer | undefined;
  #recording: Int16Array[] = [];
  #preRoll: Int16Array[] = [];
  #vadFrames: FrameSplitter;
  #followUpUntilMs = 0;
  #captureTrigger: 'wake' | 'follow-up' = 'wake';
  #history: Int16Array[] = [];
  #historySamples = 0;
  /** The pause going on in the request was reported. */
  #pauseReported = false;
  /** Speech of the request when progress was last reported. */
  #progressAtMs = 0;

  constructor(
    private readonly wake: WakeWordDetector,
    private readonly vad: VoiceActivityDetector,
    private readonly options: VoiceLoopOptions,
    private readonly handlers: VoiceLoopHandlers,
  ) {
    this.#vadFrames = new FrameSplitter(vad.frameSamples);
  }

  get mode(): LoopMode {
    return this.#mode;
  }

  /** Audio time consumed so far, in ms. */
  get audioMs(): number {
    return samplesToMs(this.#samples, CAPTURE_SAMPLE_RATE);
  }

  listenForWake(): void {
    this.#setMode('wake');
  }

  /** Records the request that follows a wake word, starting with the audio of the wake word itself. */
  capture(): void {
    this.#captureTrigger = 'wake';
    this.#setMode('capture', { noSpeechTimeoutMs: this.options.noSpeechTimeoutMs });
    this.#recording = [...this.#history];
  }

  followUp(windowMs: number): void {
    if (windowMs <= 0) return this.listenForWake();
    this.#followUpUntilMs = this.audioMs + windowMs;
    this.#setMode('follow-up');
  }

  busy(): void {
    this.#setMode('busy', { maxUtteranceMs: SHORT_UTTERANCE_MAX_MS, hangoverMs: Math.min(400, this.options.hangoverMs) });
  }

  /**
   * The silence that ends the request being captured, from now on (what was said decides it, core/pipeline/
   * turn-end.ts), when its speech is still `forSpeechMs` long. When the silence going on is already that long,
   * the request ends now. Speech that goes on puts the configured hangover back.
   */
  requireSilence(ms: number, forSpeechMs: number): void {
    const endpointer = this.#endpointer;
    // A decision about speech that has since gone on is stale.
    if (this.#mode !== 'capture' || endpointer?.phase !== 'speaking' || endpointer.speechMs !== forSpeechMs) return;
    endpointer.requireSilence(ms);
    if (endpointer.silentMs > 0 && endpointer.silentMs >= ms) this.#finishCapture('silence', endpointer.speechMs);
  }

  /** Runs until the source ends or `signal` aborts; errors from the source propagate. */
  async run(source: AudioSource, signal: AbortSignal): Promise<void> {
    for await (const chunk of source.chunks(signal)) {
      if (signal.aborted) break;
      await this.process(chunk);
    }
    if (this.#mode === 'capture' && this.#endpointer?.phase === 'speaking') {
      this.#finishCapture('source-ended', this.#speechMsSoFar());
    }
  }

  async process(chunk: Int16Array): Promise<void> {
    const chunkStartMs = this.audioMs;
    this.#samples += chunk.length;
    this.#remember(chunk);

    const detections = await this.wake.process(chunk);
    const detection = detections.at(-1);
    if (detection && this.audioMs - this.#lastWakeAtMs >= this.options.refractoryMs && this.#mode !== 'capture') {
      this.#lastWakeAtMs = this.audioMs;
      await this.handlers.onWake(detection, this.audioMs);
      // The handler usually switches to capture; the rest of this chunk belongs to the request.
      if ((this.#mode as LoopMode) === 'capture') return;
    }

    if (this.#mode === 'wake') return;
    if (this.#mode === 'follow-up' && chunkStartMs >= this.#followUpUntilMs && this.#endpointer?.phase !== 'speaking') {
      this.#setMode('wake');
      this.handlers.onFollowUpExpired();
      return;
    }
    await this.#runVad(chunk);
  }

  #setMode(mode: LoopMode, overrides: Partial<EndpointerOptions> = {}): void {
    this.#mode = mode;
    this.#recording = [];
    this.#preRoll = [];
    this.#pauseReported = false;
    this.#progressAtMs = 0;
    this.#vadFrames.clear();
    this.vad.reset();
    this.#endpointer =
      mode === 'wake'
        ? undefined
        : new Endpointer({
            frameMs: samplesToMs(this.vad.frameSamples, CAPTURE_SAMPLE_RATE),
            threshold: this.options.threshold,
            hangoverMs: this.options.hangoverMs,
            minSpeechMs: this.options.minSpeechMs,
            maxUtteranceMs: this.options.maxUtteranceMs,
            ...overrides,
          });
  }

  async #runVad(chunk: Int16Array): Promise<void> {
    const endpointer = this.#endpointer!;
    // Mirror the VAD's own framing so each probability is paired with the audio it judged.
    const frames = this.#vadFrames.push(chunk);
    const probabilities = await this.vad.process(chunk);

    for (let i = 0; i < probabilities.length; i++) {
      if (this.#endpointer !== endpointer) return; // a handler switched modes mid-batch
      const frame = frames[i]!;
      const wasWaiting = endpointer.phase === 'waiting';
      const event = endpointer.push(probabilities[i]!);
      this.#record(frame, wasWaiting, event?.type === 'speech-start');
      if (event) this.#onEndpoint(event);
      else if (this.#mode === 'capture' && endpointer.phase === 'speaking') this.#reportRequest(endpointer);
    }
  }

  /** Pauses and progress of the request being captured, for its live transcript and its end. */
  #reportRequest(endpointer: Endpointer): void {
    const { partialAfterMs, partialEveryMs } = this.options;
    const at = { speechMs: endpointer.speechMs, silentMs: endpointer.silentMs };
    if (at.silentMs === 0) {
      if (this.#pauseReported) {
        this.#pauseReported = false;
        endpointer.requireSilence(this.options.hangoverMs);
        this.handlers.onSpeechResumed?.();
      }
      if (partialEveryMs !== undefined && at.speechMs - this.#progressAtMs >= partialEveryMs) {
        this.#progressAtMs = at.speechMs;
        this.handlers.onRequestProgress?.(concatInt16(...this.#recording), at);
      }
    } else if (partialAfterMs !== undefined && !this.#pauseReported && at.silentMs >= partialAfterMs) {
      this.#pauseReported = true;
      this.handlers.onRequestPause?.(concatInt16(...this.#recording), at);
    }
  }

  /** After a wake word everything is the request; otherwise speech starts at the onset, with pre-roll. */
  #record(frame: Int16Array, wasWaiting: boolean, speechStarted: boolean): void {
    if (this.#mode === 'capture' && this.#captureTrigger === 'wake') this.#recording.push(frame);
    else if (speechStarted) this.#recording = [...this.#preRoll, frame];
    else if (wasWaiting) this.#keepPreRoll(frame);
    else this.#recording.push(frame);
  }

  #onEndpoint(event: EndpointEvent): void {
    switch (event.type) {
      case 'speech-start':
        if (this.#mode === 'follow-up') {
          this.#mode = 'capture';
          this.#captureTrigger = 'follow-up';
        }
        if (this.#mode === 'capture') this.handlers.onSpeechStart(this.#captureTrigger);
        return;
      case 'no-speech':
        this.#setMode('wake');
        this.handlers.onNoSpeech(event.waitedMs);
        return;
      case 'speech-end':
        if (this.#mode === 'capture') return this.#finishCapture(event.reason, event.speechMs);
        if (this.#mode === 'busy') {
          const audio = concatInt16(...this.#recording);
          this.busy();
          if (event.reason === 'silence') void this.handlers.onShortUtterance(audio);
        }
        return;
    }
  }

  #finishCapture(reason: 'silence' | 'max-length' | 'source-ended', speechMs: number): void {
    const audio = concatInt16(...this.#recording);
    this.busy();
    this.handlers.onRequest(audio, { reason, speechMs });
  }

  #speechMsSoFar(): number {
    return samplesToMs(this.#recording.reduce((n, r) => n + r.length, 0), CAPTURE_SAMPLE_RATE);
  }

  #remember(chunk: Int16Array): void {
    this.#history.push(chunk);
    this.#historySamples += chunk.length;
    const keep = msToSamples(WAKE_CONTEXT_MS, CAPTURE_SAMPLE_RATE);
    while (this.#history.length > 1 && this.#historySamples - this.#history[0]!.length >= keep) {
      this.#historySamples -= this.#history.shift()!.length;
    }
  }

  #keepPreRoll(frame: Int16Array): void {
    this.#preRoll.push(frame);
    const keep = Math.ceil(msToSamples(PRE_ROLL_MS, CAPTURE_SAMPLE_RATE) / frame.length);
    if (this.#preRoll.length > keep) this.#preRoll.splice(0, this.#preRoll.length - keep);
  }
}
