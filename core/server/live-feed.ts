import { EventEmitter } from 'node:events';
import type { Assistant } from '../pipeline/assistant.ts';
import type { RunEvent } from '../protocol/run-events.ts';
import { addRunEvent, type PhotoView, type SpeechAudio, type AnswerDelta, type AssistantView, type AudioLevel, type ConfirmationView, type ModelsView, type ServerInfo, type Snapshot, type TelemetrySample, type TimersView, type TurnView } from '../protocol/wire.ts';
import type { Telemetry } from '../telemetry/telemetry.ts';
import { levelDbfs } from '../../voice/pcm.ts';
import type { AudioSink, PcmAudio } from '../../voice/ports.ts';

/**
 * What the screens show, kept up to date from the assistant (state, run events, mute/volume, the streamed
 * answer, the microphone), the speaker, telemetry and the models. `snapshot()` is what a client gets on connect; the events are
 * the deltas after it. Knows nothing about sockets.
 */

export type FeedEvents = {
  assistant: [AssistantView];
  'run-event': [RunEvent];
  'answer-delta': [AnswerDelta];
  telemetry: [TelemetrySample];
  level: [AudioLevel];
  models: [ModelsView];
  timers: [TimersView];
  confirmation: [ConfirmationView | null];
  speech: [SpeechAudio];
  photo: [PhotoView];
};

export interface ModelsSource {
  view(): ModelsView;
}

/** The timers to show (the daemon connects the skills' timer service): the list now, and a call on every change. */
export interface TimersSource {
  view(): TimersView;
  subscribe(listener: () => void): () => void;
}

/** The question a tool call waits on (core/mcp): the one now, a call on every change, and a tap's answer. */
export interface ConfirmationSource {
  view(): ConfirmationView | undefined;
  subscribe(listener: () => void): () => void;
  /** False when question `id` is no longer waiting. */
  answer(id: number, yes: boolean): boolean;
}

const MAX_ANSWER_CHARS = 8000;
/** Microphone level updates per second. */
const MIC_LEVEL_HZ = 10;
const SPEAKER_FRAME_MS = 50;

export class LiveFeed extends EventEmitter<FeedEvents> {
  #server: ServerInfo = { version: '', urls: [], lan: false };
  /** The last turn with a question, then the run in progress when it is a later one. */
  #turns: TurnView[] = [];
  #answerRun: number | undefined;
  #micPeak = -120;
  #micWindowStart = 0;
  #timers: TimersSource | undefined;
  #confirmation: ConfirmationSource | undefined;
  /** The last list sent, to send nothing when a change did not touch the open timers. */
  #timersSent = '[]';
  readonly #unsubscribe: (() => void)[] = [];

  /** `speaker`: the sink everything is played on (answers and timers alike), for its level. */
  constructor(
    private readonly assistant: Assistant,
    private readonly models: ModelsSource,
    private readonly telemetry?: Telemetry,
    speaker?: AudioSink,
  ) {
    super();
    this.setMaxListeners(0);
    const onState = () => this.emit('assistant', this.#assistantView());
    const onPiece = (piece: string) => this.#answerPiece(piece);
    const onMicrophone = (samples: Int16Array) => this.#microphoneAudio(samples);
    // Passed on as it comes and not kept: a screen that connects later shows the answer without the photo.
    const onPhoto = (image: { type: string; data: Uint8Array }, runId: number) => this.emit('photo', { runId, type: image.type, data: image.data });
    assistant.on('photo', onPhoto);
    assistant.on('state', onState);
    assistant.on('controls', onState);
    assistant.on('answer-piece', onPiece);
    assistant.on('microphone-audio', onMicrophone);
    this.#unsubscribe.push(
      () => assistant.off('state', onState),
      () => assistant.off('controls', onState),
      () => assistant.off('answer-piece', onPiece),
      () => assistant.off('microphone-audio', onMicrophone),
      () => assistant.off('photo', onPhoto),
    );
    this.#unsubscribe.push(assistant.bus.subscribe((event) => this.#onRunEvent(event)));
    if (speaker) this.#unsubscribe.push(speaker.onPlayed((audio) => this.#speakerAudio(audio)));
    if (telemetry) {
      const onSample = (sample: TelemetrySample) => this.emit('telemetry', sample);
      telemetry.on('sample', onSample);
      this.#unsubscribe.push(() => telemetry.off('sample', onSample));
    }
  }

  setServerInfo(info: ServerInfo): void {
    this.#server = info;
  }

  snapshot(): Snapshot {
    return {
      server: this.#server,
      assistant: this.#assistantView(),
      turns: this.#turns.map((t) => ({ ...t, events: [...t.events] })),
      telemetry: { intervalMs: this.telemetry?.intervalMs ?? 1000, history: [...(this.telemetry?.history ?? [])] },
      models: this.models.view(),
      timers: this.#timers?.view() ?? { at: Date.now(), timers: [] },
      ...(this.#confirmation?.view() ? { confirmation: this.#confirmation.view()! } : {}),
    };
  }

  /** Shows `source`'s confirmation question (in snapshots, and a `confirmation` event on every change); returns the undo. */
  showConfirmation(source: ConfirmationSource): () => void {
    this.#confirmation = source;
    const unsubscribe = source.subscribe(() => {
      if (this.#confirmation === source) this.emit('confirmation', source.view() ?? null);
    });
    const undo = () => {
      unsubscribe();
      if (this.#confirmation === source) this.#confirmation = undefined;
    };
    this.#unsubscribe.push(undo);
    return undo;
  }

  /** A screen's yes or no to question `id`; false when it is no longer waiting. */
  answerConfirmation(id: number, yes: boolean): boolean {
    return this.#confirmation?.answer(id, yes) ?? false;
  }

  /** Shows `source`'s timers from now on (in snapshots, and a `timers` event when the list changes); returns the undo. */
  showTimers(source: TimersSource): () => void {
    this.#timers = source;
    this.#timersSent = JSON.stringify(source.view().timers);
    const unsubscribe = source.subscribe(() => {
      if (this.#timers !== source) return;
      const view = source.view();
      const sent = JSON.stringify(view.timers);
      if (sent === this.#timersSent) return;
      this.#timersSent = sent;
      this.emit('timers', view);
    });
    const undo = () => {
      unsubscribe();
      if (this.#timers === source) this.#timers = undefined;
    };
    this.#unsubscribe.push(undo);
    return undo;
  }

  /** A piece of the answer as the LLM writes it; it belongs to the run whose llm-start came last. */
  #answerPiece(text: string): void {
    const turn = this.#turns.find((t) => t.runId === this.#answerRun);
    if (!turn) return;
    if (turn.answer.length < MAX_ANSWER_CHARS) turn.answer += text;
    this.emit('answer-delta', { runId: turn.runId, text });
  }

  /** Microphone audio as it is heard (silence while muted); sent as the loudest 10 ms level of each 100 ms. */
  #microphoneAudio(samples: Int16Array): void {
    for (let i = 0; i < samples.length; i += 160) this.#micPeak = Math.max(this.#micPeak, levelDbfs(samples.subarray(i, i + 160)));
    const now = performance.now();
    if (now - this.#micWindowStart < 1000 / MIC_LEVEL_HZ) return;
    this.emit('level', { source: 'microphone', dbfs: Math.round(this.#micPeak) });
    this.#micPeak = -120;
    this.#micWindowStart = now;
  }

  /** A chunk the speaker starts playing: its envelope, for the indicator to follow while it plays. */
  #speakerAudio(audio: PcmAudio): void {
    const step = Math.max(1, Math.round((audio.sampleRate * SPEAKER_FRAME_MS) / 1000));
    const dbfs: number[] = [];
    for (let i = 0; i < audio.samples.length; i += step) dbfs.push(Math.round(levelDbfs(audio.samples.subarray(i, i + step))));
    if (dbfs.length > 0) this.emit('level', { source: 'speaker', frameMs: SPEAKER_FRAME_MS, dbfs });
    if (this.listenerCount('speech') > 0) {
      const { samples } = audio;
      this.emit('speech', { sampleRate: audio.sampleRate, pcm: new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength) });
    }
  }

  modelsChanged(): void {
    this.emit('models', this.models.view());
  }

  dispose(): void {
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
    this.removeAllListeners();
  }

  #assistantView(): AssistantView {
    const { phase, problems } = this.assistant.state;
    return { phase, problems, ...this.assistant.controls };
  }

  #onRunEvent(event: RunEvent): void {
    this.#turns = addRunEvent(this.#turns, event);
    if (event.type === 'llm-start') this.#answerRun = event.runId;
    if (event.type === 'llm-end' && this.#answerRun === event.runId) this.#answerRun = undefined;
    this.emit('run-event', event);
  }
}
