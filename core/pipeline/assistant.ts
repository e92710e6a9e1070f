import { EventEmitter } from 'node:events';
import { backoffMs } from '../../base/backoff.ts';
import { sleep, systemClock, type Clock } from '../../base/clock.ts';
import type { JarvisConfig } from '../../config/schema.ts';
import { GainSink } from '../../voice/audio/gain-sink.ts';
import { samplesToMs } from '../../voice/pcm.ts';
import { CAPTURE_SAMPLE_RATE, type AudioSink, type AudioSource, type Synthesizer, type Transcriber, type VoiceActivityDetector, type WakeDetection, type WakeWordDetector } from '../../voice/ports.ts';
import { AudioDeviceError, describeError, isAbortError } from '../../base/errors.ts';
import { RunEventBus, type RunRecorder } from '../events.ts';
import type { BargeInCause, SatelliteRoom, TurnTrigger } from '../protocol/run-events.ts';
import type { Logger } from '../../base/log.ts';
import type { EchoGuard } from './echo-guard.ts';
import type { RecordedRequest } from './request.ts';
import { LiveTranscript } from './live-transcript.ts';
import { Speculation } from './speculation.ts';
import { cleanTranscript, isStopPhrase, splitAtWakeWord, WakeName } from './transcript.ts';
import { turnEnd, type TurnEnd } from './turn-end.ts';
import { runTurn, type TurnInput, type TurnResult } from './turn.ts';
import type { SpeechOutputDeps } from './speech-output.ts';
import { VoiceLoop, type RequestPoint } from './voice-loop.ts';
import type { ImageInput, Responder } from '../responder.ts';
import { initialState, transition, type AssistantEvent } from '../state.ts';
import type { AssistantState, Problem } from '../protocol/state.ts';

/**
 * Only the responder is always needed. Without a source, wake word and VAD the assistant does not listen (it
 * answers typed and recorded requests); without a transcriber it takes no audio requests; without a synthesizer
 * and a sink its answers are text (run events) only.
 */
export interface AssistantEngines {
  source?: AudioSource;
  sink?: AudioSink;
  wake?: WakeWordDetector;
  vad?: VoiceActivityDetector;
  transcriber?: Transcriber;
  responder: Responder;
  /** With a fallback voice behind it where there is one (voice/tts/fallback.ts). */
  synthesizer?: Synthesizer;
  echoGuard?: EchoGuard;
}

export interface AssistantEvents {
  state: [AssistantState];
  controls: [AssistantControls];
  /** The answer as the responder writes it (run events carry whole sentences only): for the screens. */
  'answer-piece': [piece: string, runId: number];
  /** What the microphone delivered (silence while muted): for the screens' level meter. */
  'microphone-audio': [samples: Int16Array];
  /** A turn about a photo started: the screens show the photo beside its answer (never stored). */
  photo: [image: ImageInput, runId: number];
}

/** The longest wait between two tries of a missing microphone (see listen()). */
const MICROPHONE_RETRY_MAX_MS = 4000;

/** Mute and volume, as set from the remote. */
export interface AssistantControls {
  muted: boolean;
  /** Playback gain, 0..1. */
  volume: number;
}

/** A push-to-talk request in progress (see Assistant.beginRemoteRequest). */
export interface RemoteRequest {
  readonly runId: number;
  /** The button was released: answer `audio` (16 kHz mono), about `image` when a photo came with it. */
  finish(audio: Int16Array, image?: ImageInput): Promise<TurnResult>;
  /** The request was abandoned (released off the button, the phone went away). */
  cancel(): void;
}

/** A request heard by a satellite in another room (see Assistant.beginSatelliteRequest). */
export interface SatelliteRequest {
  readonly run: RunRecorder;
  /** The satellite's VAD heard the request end: answer `audio` (16 kHz mono) there. */
  finish(audio: Int16Array, heard: { includesWakeWord: boolean; reason: 'silence' | 'max-length' | 'source-ended'; speechMs: number }): Promise<TurnResult>;
  /** Nothing was said after the wake word (no-speech), or the satellite went away (interrupted: its answer stops too). */
  cancel(outcome: 'no-speech' | 'interrupted', waitedMs?: number): void;
}

/** Per turn: where its answer plays and which room its request means, when that is not JARVIS's own. */
interface TurnPlace {
  /** The answer's voice and speaker; none given: the assistant's own (or text only). */
  readonly voice?: SpeechOutputDeps | undefined;
  readonly area?: string | undefined;
}

export const MUTED_PROBLEM: Problem = {
  id: 'muted',
  message: 'The microphone is muted: JARVIS is not listening for its wake word.',
  fix: 'Unmute it on the phone remote.',
  blocking: false,
};

/**
 * Something that plays without being asked, such as a timer ringing (core/skills/timer-alert.ts). It runs like a
 * turn, so the same things stop it: a stop phrase said without the wake word, a wake word, the stop command.
 */
export interface Alert {
  /** Plays until it is done or `signal` aborts, reporting on `run` and ending it. `onSpeaking`: first audio out. */
  play(run: RunRecorder, signal: AbortSignal, onSpeaking: () => void): Promise<TurnResult>;
  /** A short utterance heard while it plays: true when it ends the alert ("stop", "okay", "snooze"). */
  hears(text: string): boolean;
}

interface ActiveTurn {
  run: RunRecorder;
  controller: AbortController;
  done: Promise<TurnResult>;
  alert?: Alert;
}

/**
 * The daemon's heart: wires the listening loop to turns, owns the state machine and the run-event bus, and
 * handles barge-in (a wake word or a stop phrase while thinking or speaking), the follow-up window, and a
 * microphone that is missing or goes away (degraded, retried until it is back).
 */
export class Assistant extends EventEmitter<AssistantEvents> {
  readonly bus: RunEventBus;
  readonly clock: Clock;
  /** Where answers are played, with the remote's volume applied; none: text answers only. */
  readonly #output: GainSink | undefined;
  /** Sentences an answer may have (the GPU governor's while the GPU is hot); undefined: any. */
  #sentenceCap: number | undefined;
  #volume = 1;
  #muted = false;
  #state: AssistantState = initialState;
  #turn: ActiveTurn | undefined;
  /** The run that a wake word or follow-up opened and that is still recording its request. */
  #listeningRun: RunRecorder | undefined;
  /** That request's transcript while it is spoken, and what it said about its own end (vad.turnEnd "meaning"). */
  #live: LiveTranscript | undefined;
  #turnEnd: (TurnEnd & { speechMs: number }) | undefined;
  /** An answer started in the request's last pause, before its end was confirmed. */
  #speculation: Speculation | undefined;
  #checkingStopPhrase = false;
  /** Alerts waiting for the turn in progress to end. */
  readonly #alerts: Alert[] = [];
  readonly #loop: VoiceLoop | undefined;
  readonly #wakeName: WakeName;
  /** How often each open problem was reported again since it was logged. */
  readonly #problemRepeats = new Map<string, number>();
  /** Microphone failures in a row: the retries back off. */
  #microphoneFailures = 0;

  /** `clock`: run-event times, retries and alerts (the system clock; audio time in a replayed test). */
  constructor(
    private readonly engines: AssistantEngines,
    private readonly config: JarvisConfig,
    private readonly log: Logger,
    options: { clock?: Clock } = {},
  ) {
    super();
    this.clock = options.clock ?? systemClock;
    this.bus = new RunEventBus(this.clock);
    this.#output = engines.sink && new GainSink(engines.sink);
    this.#wakeName = new WakeName(config.wake.phrase);
    this.#loop = engines.wake && engines.vad && new VoiceLoop(
      engines.wake,
      engines.vad,
      {
        threshold: config.vad.threshold,
        hangoverMs: config.vad.hangoverMs,
        minSpeechMs: config.vad.minSpeechMs,
        maxUtteranceMs: config.vad.maxUtteranceMs,
        noSpeechTimeoutMs: config.vad.noSpeechTimeoutMs,
        refractoryMs: config.wake.refractoryMs,
        // The request is transcribed while it is spoken, for its end and the live transcript.
        ...(config.vad.turnEnd === 'meaning' && engines.transcriber ? { partialAfterMs: config.vad.partialAfterMs, partialEveryMs: config.vad.partialEveryMs } : {}),
      },
      {
        onWake: (detection, audioMs) => this.#onWake(detection, audioMs),
        onSpeechStart: (trigger) => this.#onSpeechStart(trigger),
        onRequest: (audio, info) => this.#onRequest(audio, info),
        onNoSpeech: (waitedMs) => this.#onNoSpeech(waitedMs),
        onFollowUpExpired: () => this.log.debug('follow-up window closed'),
        onShortUtterance: (audio) => this.#onShortUtterance(audio),
        onRequestPause: (audio, at) => this.#onRequestPause(audio, at),
        onSpeechResumed: () => this.#dropSpeculation(),
        onRequestProgress: (audio, at) => void this.#live?.update(audio, at),
      },
    );
    if (engines.echoGuard) {
      const guard = engines.echoGuard;
      this.bus.subscribe((event) => {
        if (event.type === 'tts-start') guard.noteSpoken(event.text);
      });
    }
  }

  get state(): AssistantState {
    return this.#state;
  }

  dispatch(event: AssistantEvent): void {
    const next = transition(this.#state, event);
    if (next === this.#state) return;
    this.#state = next;
    this.log.debug({ phase: next.phase, event: event.type }, 'state');
    this.emit('state', next);
  }

  /** A problem is logged when it starts or changes; the same one again (a retry failing) only counts. */
  reportProblem(problem: Problem): void {
    const known = this.#state.problems.find((p) => p.id === problem.id);
    if (known?.message === problem.message) {
      this.#problemRepeats.set(problem.id, (this.#problemRepeats.get(problem.id) ?? 0) + 1);
      return;
    }
    this.#problemRepeats.set(problem.id, 0);
    this.log.warn({ problem: problem.id, fix: problem.fix }, problem.message);
    this.dispatch({ type: 'problem', problem });
  }

  /** The model forgets the conversation so far (the user asked: `jarvis forget --all`). */
  async forgetConversation(): Promise<void> {
    await this.engines.responder.resetConversation();
    this.log.info('conversation forgotten');
  }

  /** Answers end after this many sentences from now on (undefined: no limit); the LLM stops generating there. */
  limitAnswers(sentences: number | undefined): void {
    this.#sentenceCap = sentences;
  }

  clearProblem(id: string): void {
    if (this.#state.problems.some((p) => p.id === id)) this.log.info({ problem: id, repeats: this.#problemRepeats.get(id) ?? 0 }, 'resolved');
    this.#problemRepeats.delete(id);
    this.dispatch({ type: 'problem-cleared', id });
  }

  /**
   * Listens until `signal` aborts or the source ends (a recording), then waits for the last turn. A microphone
   * that fails is reported as a blocking problem and retried after audio.input.retryMs, backing off to 4 s (or
   * retryMs, if longer): a microphone plugged back in after an hour is heard again within seconds, not after a
   * back-off grown to minutes. Only a request being recorded is lost: an answer or a ringing timer plays on.
   */
  async listen(signal: AbortSignal): Promise<void> {
    const loop = this.#loop;
    if (!loop) throw new Error('this assistant was built without a wake word detector and VAD, so it cannot listen');
    this.dispatch({ type: 'ready' });
    while (!signal.aborted) {
      try {
        await loop.run(this.#watchedSource(), signal);
        break; // the source ended: a recording was played to the end
      } catch (error) {
        if (signal.aborted || isAbortError(error)) break;
        if (!(error instanceof AudioDeviceError)) throw error;
        this.#abandonRequest();
        this.reportProblem({ id: 'microphone', message: error.message, fix: error.fix, blocking: true });
        const { retryMs } = this.config.audio.input;
        const waitMs = backoffMs(retryMs, this.#microphoneFailures++, Math.max(retryMs, MICROPHONE_RETRY_MAX_MS));
        await sleep(this.clock, waitMs, signal).catch(() => {});
      }
    }
    await this.#turn?.done;
  }

  /** A typed question (CLI, phone): answered like a spoken one, without STT; `image`: a photo it is about. */
  async ask(text: string, image?: ImageInput): Promise<TurnResult> {
    this.#abortTurn('command');
    const run = this.bus.startRun('text');
    this.dispatch({ type: 'text-request' });
    return this.#startTurn(run, { text, ...(image ? { image } : {}) }).done;
  }

  /** A request found in a recording (`jarvis turn`): reported as if it had just been heard, then answered. */
  answerRecording(request: RecordedRequest): Promise<TurnResult> {
    this.#abortTurn('command');
    const run = this.bus.startRun(request.wake ? 'wake' : 'file');
    if (request.wake) run.emit({ type: 'wake', keyword: request.wake.keyword, score: request.wake.score, engine: this.engines.wake?.engine ?? 'recording' });
    run.emit({ type: 'vad-start' });
    run.emit({ type: 'vad-end', reason: request.reason, speechMs: request.speechMs });
    this.dispatch({ type: 'text-request' });
    return this.#startTurn(run, { audio: request.audio, includesWakeWord: request.wake !== undefined }).done;
  }

  /** The stop command (CLI, phone): silence now. */
  stop(): void {
    this.#abortTurn('command');
    this.#loop?.listenForWake();
  }

  get controls(): AssistantControls {
    return { muted: this.#muted, volume: this.#volume };
  }

  /**
   * Muted, the microphone's audio is replaced by silence of the same length (the listening loop keeps its audio
   * clock) and the state carries a non-blocking 'muted' problem, so every screen says so.
   */
  setMuted(muted: boolean): void {
    if (muted === this.#muted) return;
    this.#muted = muted;
    this.log.info(muted ? 'microphone muted' : 'microphone unmuted');
    if (muted) this.dispatch({ type: 'problem', problem: MUTED_PROBLEM });
    else this.dispatch({ type: 'problem-cleared', id: MUTED_PROBLEM.id });
    this.emit('controls', this.controls);
  }

  setVolume(volume: number): void {
    this.#volume = volume;
    if (this.#output) this.#output.gain = volume;
    this.emit('controls', this.controls);
  }

  /**
   * Push-to-talk from the phone: the phone records the request and says where it ends, so the turn starts at
   * speech-to-text, with no wake word and no VAD. It works while the microphone is missing, like a typed question.
   */
  beginRemoteRequest(): RemoteRequest {
    this.#abortTurn('command');
    this.#stopListening();
    const run = this.bus.startRun('remote');
    run.emit({ type: 'vad-start' });
    this.dispatch({ type: 'wake' });
    let settled = false;
    return {
      runId: run.runId,
      finish: (audio, image) => {
        if (settled) return Promise.reject(new Error('this push-to-talk request has already ended'));
        settled = true;
        run.emit({ type: 'vad-end', reason: 'released', speechMs: samplesToMs(audio.length, CAPTURE_SAMPLE_RATE) });
        // 'text-request' is the event that starts thinking from any phase, degraded included.
        this.dispatch({ type: 'text-request' });
        return this.#startTurn(run, { audio, includesWakeWord: false, ...(image ? { image } : {}) }).done;
      },
      cancel: () => {
        if (settled) return;
        settled = true;
        run.end('interrupted');
        this.dispatch({ type: 'no-speech' });
      },
    };
  }

  /**
   * A satellite in another room heard its wake word (its own, or ours on its audio): its request is recorded and
   * endpointed by the satellite's link (core/satellite), answered here with `room.area` as the room it means, and
   * spoken through `voice`, the satellite's speaker. It is the turn like any other: it cuts the one in progress,
   * and a wake word, the stop command or shutdown stop it (its sink is silenced with the turn's abort).
   */
  beginSatelliteRequest(room: SatelliteRoom, voice: SpeechOutputDeps | undefined, wake?: { keyword: string; score: number; engine: string }): SatelliteRequest {
    this.#abortTurn('wake', room.name);
    this.#stopListening();
    const run = this.bus.startRun('satellite', this.clock.monotonic(), room);
    if (wake) run.emit({ type: 'wake', ...wake });
    this.dispatch({ type: 'wake' });
    let settled = false;
    return {
      run,
      finish: (audio, heard) => {
        if (settled) return Promise.reject(new Error('this satellite request has already ended'));
        settled = true;
        run.emit({ type: 'vad-end', reason: heard.reason, speechMs: heard.speechMs });
        // Whatever started meanwhile (a question typed, our own wake word) gives way to the room that asked last.
        this.#abortTurn('wake', room.name);
        this.dispatch({ type: 'text-request' });
        return this.#startTurn(run, { audio, includesWakeWord: heard.includesWakeWord }, { voice, area: room.area }).done;
      },
      cancel: (outcome, waitedMs) => {
        if (settled) {
          // Answering a satellite that is gone: nobody hears the rest.
          if (outcome === 'interrupted' && this.#turn?.run === run) this.#abortTurn('command', `the ${room.name} satellite went away`);
          return;
        }
        settled = true;
        if (outcome === 'no-speech' && waitedMs !== undefined) run.emit({ type: 'no-speech', waitedMs });
        run.end(outcome);
        this.dispatch({ type: 'no-speech' });
        this.#startQueuedAlert();
      },
    };
  }

  /**
   * Plays `alert` now, or after the request or answer in progress: a timer must not cut into a question, and it
   * rings as soon as the answer is over.
   */
  alert(alert: Alert): void {
    this.#alerts.push(alert);
    this.#startQueuedAlert();
  }

  async dispose(): Promise<void> {
    this.#alerts.length = 0;
    this.#abortTurn('command');
    await this.#turn?.done.catch(() => {});
  }

  #watchedSource(): AudioSource {
    const source = this.engines.source;
    if (!source) throw new Error('this assistant was built without an audio source, so it cannot listen');
    const onFlowing = () => {
      this.#microphoneFailures = 0;
      this.clearProblem('microphone');
    };
    const isMuted = () => this.#muted;
    const heard = (samples: Int16Array) => this.emit('microphone-audio', samples);
    return {
      description: source.description,
      async *chunks(signal) {
        let first = true;
        for await (const chunk of source.chunks(signal)) {
          if (first) {
            first = false;
            onFlowing();
          }
          const samples = isMuted() ? new Int16Array(chunk.length) : chunk;
          heard(samples);
          yield samples;
        }
      },
    };
  }

  async #onWake(detection: WakeDetection, audioMs: number): Promise<void> {
    if (this.#turn && this.engines.echoGuard && (await this.engines.echoGuard.isWakeEcho())) {
      this.log.info({ score: detection.score }, 'ignored a wake word in our own voice');
      return;
    }
    this.#abortTurn('wake');
    this.#stopListening();
    const run = this.bus.startRun('wake');
    run.emit({ type: 'wake', keyword: detection.keyword, score: detection.score, engine: this.engines.wake!.engine });
    this.log.info({ run: run.runId, score: Number(detection.score.toFixed(3)), audioMs: Math.round(audioMs) }, 'wake word');
    this.#listenTo(run);
    this.dispatch({ type: 'wake' });
    this.#loop?.capture();
  }

  #onSpeechStart(trigger: 'wake' | 'follow-up'): void {
    if (trigger === 'follow-up') {
      this.#listenTo(this.bus.startRun('follow-up'));
      this.dispatch({ type: 'follow-up-speech' });
    }
    this.#listeningRun?.emit({ type: 'vad-start' });
  }

  /** The request being recorded is abandoned (a new wake word, push-to-talk). */
  #stopListening(): void {
    this.#dropSpeculation();
    this.#listeningRun?.end('interrupted');
    this.#listeningRun = undefined;
    this.#live?.cancel();
    this.#live = undefined;
  }

  /** The answer started in a pause is withdrawn: the person spoke on, or the request was dropped. */
  #dropSpeculation(run = this.#listeningRun): void {
    const speculation = this.#speculation;
    this.#speculation = undefined;
    if (speculation?.discard()) run?.emit({ type: 'speculation-discarded', text: speculation.text });
  }

  /** `run` records the request heard from now on; its transcript is taken while it is spoken. */
  #listenTo(run: RunRecorder): void {
    this.#live?.cancel();
    this.#listeningRun = run;
    this.#turnEnd = undefined;
    const { transcriber } = this.engines;
    this.#live =
      this.config.vad.turnEnd === 'meaning' && transcriber
        ? new LiveTranscript(transcriber, {
            onPartial: ({ text, audioMs }) => run.emit({ type: 'stt-partial', text: this.#requestText(run, text), audioMs }),
            onError: (error) => this.log.debug({ err: describeError(error) }, 'could not transcribe the request so far'),
          })
        : undefined;
  }

  /** What the person asked, from a transcript of the request audio (which starts with the wake word). */
  #requestText(run: RunRecorder, raw: string): string {
    return run.trigger === 'wake' ? splitAtWakeWord(raw, this.#wakeName).request : cleanTranscript(raw, this.#wakeName);
  }

  /**
   * A pause in the request: what was said so far decides how much more silence ends it (core/pipeline/turn-end.ts):
   * a complete request ends now or soon, one that trails off waits for the rest.
   */
  #onRequestPause(audio: Int16Array, at: RequestPoint): void {
    const live = this.#live;
    const run = this.#listeningRun;
    if (!live || !run) return;
    void live.update(audio, at).then((raw) => {
      if (raw === undefined || this.#live !== live) return;
      const text = this.#requestText(run, raw);
      const { vad } = this.config;
      const end = turnEnd(text, { intentMatched: this.engines.responder.understands?.(text) ?? false }, { completeMs: vad.completeMs, unsureMs: vad.hangoverMs, trailingMs: vad.trailingMs });
      this.#turnEnd = { ...end, speechMs: at.speechMs };
      this.#loop?.requireSilence(end.silenceMs, at.speechMs);
      // Still waiting out the silence: start on the answer now, unless the request trails off.
      if (this.#listeningRun === run && this.#live === live && end.reason !== 'trailing' && text) {
        this.#dropSpeculation();
        this.#speculation = new Speculation(this.engines.responder, text, at.speechMs, run, this.clock);
      }
    });
  }

  #onRequest(audio: Int16Array, info: { reason: 'silence' | 'max-length' | 'source-ended'; speechMs: number }): void {
    const run = this.#listeningRun ?? this.bus.startRun('follow-up');
    const live = this.#live;
    const decided = this.#turnEnd?.speechMs === info.speechMs ? this.#turnEnd : undefined;
    const speculation = this.#speculation?.speechMs === info.speechMs ? this.#speculation : undefined;
    if (!speculation) this.#dropSpeculation(run);
    this.#speculation = undefined;
    this.#listeningRun = undefined;
    this.#live = undefined;
    // The transcript taken in the last pause is the request's, when nothing was said after it.
    const transcript = live?.covering(info.speechMs);
    run.emit({
      type: 'vad-end',
      reason: info.reason,
      speechMs: info.speechMs,
      ...(decided && info.reason === 'silence' ? { turnEnd: { reason: decided.reason, silenceMs: decided.silenceMs } } : {}),
    });
    this.dispatch({ type: 'utterance-end' });
    const turn = this.#startTurn(run, {
      audio,
      includesWakeWord: run.trigger === 'wake',
      ...(transcript ? { transcript } : {}),
      ...(speculation ? { early: { text: speculation.text, take: (signal: AbortSignal) => speculation.confirm(signal) } } : {}),
    });
    // A turn that did not take the early answer (another transcript, a dropped wake word) throws it away.
    if (speculation) void turn.done.then(() => speculation.discard() && run.emit({ type: 'speculation-discarded', text: speculation.text }));
  }

  /** The microphone went away: the request it was recording is lost, and listening starts over when it is back. */
  #abandonRequest(): void {
    if (!this.#listeningRun) return;
    this.#stopListening();
    this.dispatch({ type: 'no-speech' });
    if (!this.#turn) this.#loop?.listenForWake();
    this.#startQueuedAlert();
  }

  #onNoSpeech(waitedMs: number): void {
    const run = this.#listeningRun;
    this.#listeningRun = undefined;
    this.#live?.cancel();
    this.#live = undefined;
    run?.emit({ type: 'no-speech', waitedMs });
    run?.end('no-speech');
    this.dispatch({ type: 'no-speech' });
    this.#startQueuedAlert();
  }

  async #onShortUtterance(audio: Int16Array): Promise<void> {
    const turn = this.#turn;
    if (!turn || this.#state.phase !== 'speaking' || this.#checkingStopPhrase) return;
    this.#checkingStopPhrase = true;
    try {
      if (!this.engines.transcriber) return;
      const { text } = await this.engines.transcriber.transcribe(audio, turn.controller.signal);
      const stop = isStopPhrase(text, this.config.conversation.stopPhrases, this.#wakeName) || turn.alert?.hears(text) === true;
      const echo = this.engines.echoGuard?.isWordEcho(text) ?? false;
      this.log.debug({ text, stop, echo }, 'heard while speaking');
      if (stop && !echo && this.#turn === turn) {
        this.#abortTurn('stop-phrase', text);
        this.#loop?.listenForWake();
      }
    } catch (error) {
      if (!isAbortError(error)) this.log.warn({ err: describeError(error) }, 'could not check for a stop phrase');
    } finally {
      this.#checkingStopPhrase = false;
    }
  }

  #startTurn(run: RunRecorder, input: TurnInput, place?: TurnPlace): ActiveTurn {
    const controller = new AbortController();
    if (input.image) this.emit('photo', input.image, run.runId);
    const { transcriber, responder, synthesizer } = this.engines;
    // A satellite's turn speaks on the satellite only, with or without a voice there: never on our own speaker.
    const voice = place ? place.voice : synthesizer && this.#output ? { synthesizer, sink: this.#output } : undefined;
    const deps = {
      transcriber,
      responder,
      ...(voice ? { voice } : {}),
      ...(place?.area ? { area: place.area } : {}),
      verifyWakeWord: this.config.wake.verifyTranscript,
      wakeName: this.#wakeName,
      onPiece: (piece: string) => this.emit('answer-piece', piece, run.runId),
      sentenceCap: () => this.#sentenceCap,
    };
    const done = runTurn(deps, run, input, controller.signal, () => {
      if (this.#turn?.run === run) this.dispatch({ type: 'speaking' });
    });
    return this.#track(run, controller, done);
  }

  #startQueuedAlert(): void {
    if (this.#turn || this.#listeningRun) return;
    const alert = this.#alerts.shift();
    if (!alert) return;
    const run = this.bus.startRun('alert');
    this.dispatch({ type: 'text-request' });
    // Busy: the microphone listens for a short "stop" without the wake word.
    this.#loop?.busy();
    const controller = new AbortController();
    // Started a microtask later, once it is the active turn, so that its first sound counts as speaking.
    const done = Promise.resolve().then(() =>
      alert.play(run, controller.signal, () => {
        if (this.#turn?.run === run) this.dispatch({ type: 'speaking' });
      }),
    );
    this.#track(run, controller, done, alert);
  }

  /** Makes `done` the active turn; when it ends, the state and the loop move on and a waiting alert may start. */
  #track(run: RunRecorder, controller: AbortController, done: Promise<TurnResult>, alert?: Alert): ActiveTurn {
    const tracked = done
      .catch((error): TurnResult => {
        const { code, message, fix } = describeError(error);
        run.emit({ type: 'error', stage: 'pipeline', code, message, fix });
        run.end('error');
        return { outcome: 'error' };
      })
      .then((result) => {
        if (this.#turn?.run === run) this.#turnFinished(result, run.trigger);
        this.#startQueuedAlert();
        return result;
      });
    this.#turn = { run, controller, done: tracked, ...(alert ? { alert } : {}) };
    return this.#turn;
  }

  #turnFinished(result: TurnResult, trigger: TurnTrigger): void {
    this.#turn = undefined;
    this.dispatch({ type: result.outcome === 'interrupted' ? 'interrupted' : 'turn-end' });
    // A typed question does not open the microphone; a spoken one invites a follow-up.
    const invitesFollowUp = result.outcome === 'answered' || result.outcome === 'empty-transcript';
    const followUp = invitesFollowUp && trigger !== 'text' && trigger !== 'alert' ? this.config.conversation.followUpMs : 0;
    if (this.#loop?.mode === 'busy') this.#loop.followUp(followUp);
  }

  #abortTurn(cause: BargeInCause, detail?: string): void {
    const turn = this.#turn;
    if (!turn) return;
    this.#turn = undefined;
    turn.run.emit({ type: 'barge-in', cause, ...(detail ? { detail } : {}) });
    turn.controller.abort();
    this.#output?.stop();
    this.dispatch({ type: 'interrupted' });
  }
}
