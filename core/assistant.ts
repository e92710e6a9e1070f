import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { JarvisConfig } from '../config/schema.ts';
import type { AudioSink, AudioSource, Synthesizer, Transcriber, VoiceActivityDetector, WakeDetection, WakeWordDetector } from '../voice/ports.ts';
import { AudioDeviceError, describeError, isAbortError } from './errors.ts';
import { RunEventBus, type BargeInCause, type RunRecorder, type TurnTrigger } from './events.ts';
import type { Logger } from './log.ts';
import type { EchoGuard } from './pipeline/echo-guard.ts';
import { isStopPhrase } from './pipeline/transcript.ts';
import { runTurn, type TurnInput, type TurnResult } from './pipeline/turn.ts';
import { VoiceLoop } from './pipeline/voice-loop.ts';
import type { Responder } from './responder.ts';
import { initialState, transition, type AssistantEvent, type AssistantState, type Problem } from './state.ts';

export interface AssistantEngines {
  source: AudioSource;
  sink: AudioSink;
  wake: WakeWordDetector;
  vad: VoiceActivityDetector;
  transcriber: Transcriber;
  responder: Responder;
  synthesizer: Synthesizer;
  /** Speaks a sentence the main voice failed on. */
  fallbackSynthesizer?: Synthesizer;
  echoGuard?: EchoGuard;
}

interface ActiveTurn {
  run: RunRecorder;
  controller: AbortController;
  done: Promise<TurnResult>;
}

/**
 * The daemon's heart: wires the listening loop to turns, owns the state machine and the run-event bus, and
 * handles barge-in (a wake word or a stop phrase while thinking or speaking), the follow-up window, and a
 * microphone that is missing or goes away (degraded, retried until it is back).
 */
export class Assistant extends EventEmitter<{ state: [AssistantState] }> {
  readonly bus = new RunEventBus();
  #state: AssistantState = initialState;
  #turn: ActiveTurn | undefined;
  /** The run that a wake word or follow-up opened and that is still recording its request. */
  #listeningRun: RunRecorder | undefined;
  #checkingStopPhrase = false;
  readonly #loop: VoiceLoop;

  constructor(
    private readonly engines: AssistantEngines,
    private readonly config: JarvisConfig,
    private readonly log: Logger,
  ) {
    super();
    this.#loop = new VoiceLoop(
      engines.wake,
      engines.vad,
      {
        threshold: config.vad.threshold,
        hangoverMs: config.vad.hangoverMs,
        minSpeechMs: config.vad.minSpeechMs,
        maxUtteranceMs: config.vad.maxUtteranceMs,
        noSpeechTimeoutMs: config.vad.noSpeechTimeoutMs,
        refractoryMs: config.wake.refractoryMs,
      },
      {
        onWake: (detection, audioMs) => this.#onWake(detection, audioMs),
        onSpeechStart: (trigger) => this.#onSpeechStart(trigger),
        onRequest: (audio, info) => this.#onRequest(audio, info),
        onNoSpeech: (waitedMs) => this.#onNoSpeech(waitedMs),
        onFollowUpExpired: () => this.log.debug('follow-up window closed'),
        onShortUtterance: (audio) => this.#onShortUtterance(audio),
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

  reportProblem(problem: Problem): void {
    this.log.warn({ problem: problem.id, fix: problem.fix }, problem.message);
    this.dispatch({ type: 'problem', problem });
  }

  clearProblem(id: string): void {
    if (this.#state.problems.some((p) => p.id === id)) this.log.info({ problem: id }, 'resolved');
    this.dispatch({ type: 'problem-cleared', id });
  }

  /**
   * Listens until `signal` aborts or the source ends (a recording), then waits for the last turn. A microphone
   * that fails is reported as a blocking problem and retried every audio.input.retryMs.
   */
  async listen(signal: AbortSignal): Promise<void> {
    this.dispatch({ type: 'ready' });
    while (!signal.aborted) {
      try {
        await this.#loop.run(this.#watchedSource(), signal);
        break; // the source ended: a recording was played to the end
      } catch (error) {
        if (signal.aborted || isAbortError(error)) break;
        if (!(error instanceof AudioDeviceError)) throw error;
        this.#abortTurn('command');
        this.reportProblem({ id: 'microphone', message: error.message, fix: error.fix, blocking: true });
        await sleep(this.config.audio.input.retryMs, undefined, { signal }).catch(() => {});
      }
    }
    await this.#turn?.done;
  }

  /** A typed question (CLI, phone): answered like a spoken one, without STT. */
  async ask(text: string): Promise<TurnResult> {
    this.#abortTurn('command');
    const run = this.bus.startRun('text');
    this.dispatch({ type: 'text-request' });
    return this.#startTurn(run, { text }).done;
  }

  /** The stop command (CLI, phone): silence now. */
  stop(): void {
    this.#abortTurn('command');
    this.#loop.listenForWake();
  }

  async dispose(): Promise<void> {
    this.#abortTurn('command');
    await this.#turn?.done.catch(() => {});
  }

  #watchedSource(): AudioSource {
    const source = this.engines.source;
    const onFlowing = () => this.clearProblem('microphone');
    return {
      description: source.description,
      async *chunks(signal) {
        let first = true;
        for await (const chunk of source.chunks(signal)) {
          if (first) {
            first = false;
            onFlowing();
          }
          yield chunk;
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
    this.#listeningRun?.end('interrupted');
    const run = this.bus.startRun('wake');
    run.emit({ type: 'wake', keyword: detection.keyword, score: detection.score, engine: this.engines.wake.engine });
    this.log.info({ run: run.runId, score: Number(detection.score.toFixed(3)), audioMs: Math.round(audioMs) }, 'wake word');
    this.#listeningRun = run;
    this.dispatch({ type: 'wake' });
    this.#loop.capture();
  }

  #onSpeechStart(trigger: 'wake' | 'follow-up'): void {
    if (trigger === 'follow-up') {
      this.#listeningRun = this.bus.startRun('follow-up');
      this.dispatch({ type: 'follow-up-speech' });
    }
    this.#listeningRun?.emit({ type: 'vad-start' });
  }

  #onRequest(audio: Int16Array, info: { reason: 'silence' | 'max-length' | 'source-ended'; speechMs: number }): void {
    const run = this.#listeningRun ?? this.bus.startRun('follow-up');
    this.#listeningRun = undefined;
    run.emit({ type: 'vad-end', reason: info.reason, speechMs: info.speechMs });
    this.dispatch({ type: 'utterance-end' });
    this.#startTurn(run, { audio, includesWakeWord: run.trigger === 'wake' });
  }

  #onNoSpeech(waitedMs: number): void {
    const run = this.#listeningRun;
    this.#listeningRun = undefined;
    run?.emit({ type: 'no-speech', waitedMs });
    run?.end('no-speech');
    this.dispatch({ type: 'no-speech' });
  }

  async #onShortUtterance(audio: Int16Array): Promise<void> {
    const turn = this.#turn;
    if (!turn || this.#state.phase !== 'speaking' || this.#checkingStopPhrase) return;
    this.#checkingStopPhrase = true;
    try {
      const { text } = await this.engines.transcriber.transcribe(audio, turn.controller.signal);
      const stop = isStopPhrase(text, this.config.conversation.stopPhrases);
      const echo = this.engines.echoGuard?.isWordEcho(text) ?? false;
      this.log.debug({ text, stop, echo }, 'heard while speaking');
      if (stop && !echo && this.#turn === turn) {
        this.#abortTurn('stop-phrase', text);
        this.#loop.listenForWake();
      }
    } catch (error) {
      if (!isAbortError(error)) this.log.warn({ err: describeError(error) }, 'could not check for a stop phrase');
    } finally {
      this.#checkingStopPhrase = false;
    }
  }

  #startTurn(run: RunRecorder, input: TurnInput): ActiveTurn {
    const controller = new AbortController();
    const { transcriber, responder, synthesizer, fallbackSynthesizer, sink } = this.engines;
    const deps = {
      transcriber,
      responder,
      voice: { synthesizer, sink, ...(fallbackSynthesizer ? { fallback: fallbackSynthesizer } : {}) },
      verifyWakeWord: this.config.wake.verifyTranscript,
    };
    const done = runTurn(deps, run, input, controller.signal, () => {
      if (this.#turn?.run === run) this.dispatch({ type: 'speaking' });
    })
      .catch((error): TurnResult => {
        const { code, message, fix } = describeError(error);
        run.emit({ type: 'error', stage: 'pipeline', code, message, fix });
        run.end('error');
        return { outcome: 'error' };
      })
      .then((result) => {
        if (this.#turn?.run === run) this.#turnFinished(result, run.trigger);
        return result;
      });
    this.#turn = { run, controller, done };
    return this.#turn;
  }

  #turnFinished(result: TurnResult, trigger: TurnTrigger): void {
    this.#turn = undefined;
    this.dispatch({ type: result.outcome === 'interrupted' ? 'interrupted' : 'turn-end' });
    // A typed question does not open the microphone; a spoken one invites a follow-up.
    const invitesFollowUp = result.outcome === 'answered' || result.outcome === 'empty-transcript';
    const followUp = invitesFollowUp && trigger !== 'text' ? this.config.conversation.followUpMs : 0;
    if (this.#loop.mode === 'busy') this.#loop.followUp(followUp);
  }

  #abortTurn(cause: BargeInCause, detail?: string): void {
    const turn = this.#turn;
    if (!turn) return;
    this.#turn = undefined;
    turn.run.emit({ type: 'barge-in', cause, ...(detail ? { detail } : {}) });
    turn.controller.abort();
    this.engines.sink.stop();
    this.dispatch({ type: 'interrupted' });
  }
}
