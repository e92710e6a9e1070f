import { io, type Socket } from 'socket.io-client';
import {
  addRunEvent,
  hasQuestion,
  LIMITS,
  SOCKET_PATH,
  type Ack,
  type AssistantView,
  type AudioLevel,
  type ClientToServerEvents,
  type CommandInput,
  type CommandName,
  type CommandResults,
  type ConfirmationView,
  type Hello,
  type ModelsView,
  type PhotoView,
  type ServerInfo,
  type ServerToClientEvents,
  type Snapshot,
  type TelemetrySample,
  type TimersView,
  type TimerView,
  type TurnView,
} from '../../../core/protocol/wire.ts';
import { SpeechPlayer } from './speech-player.ts';
import { forgetToken, loadToken, saveToken } from './token.ts';
import { answerText, reuseUnchanged, summarize, type TurnSummary } from './turn.ts';

/**
 * The screen's link to the core: one socket.io connection (WebSocket only) that reconnects by itself, and the
 * state it keeps from the snapshot and the deltas after it. Components read the $state fields; audio levels are
 * kept outside Svelte's reactivity because the indicator reads them on every animation frame.
 *
 * Every object field is `$state.raw`: replaced whole, never proxied deeply (reads cost nothing extra). The run
 * events and answer pieces change plain objects (the core's TurnViews); what the screens show of a turn is a
 * summary of them that keeps the identity of every part that did not change, so a run event that changes nothing
 * shown re-renders nothing, and a piece of the answer re-renders the answer's text only.
 */

export type LinkStatus = 'connecting' | 'online' | 'offline';

/** How much of the telemetry history to keep (the sparklines show five minutes). */
const HISTORY_MS = 5 * 60_000;

export class Connection {
  status = $state<LinkStatus>('connecting');
  /** Who the server says we are; undefined until the first hello. */
  hello = $state.raw<Hello | undefined>();
  assistant = $state.raw<AssistantView | undefined>();
  /** The last turn that asked something (what the wall shows); a later run without a question does not replace it. */
  askedTurn = $state.raw<TurnSummary | undefined>();
  /** The latest turn, asked or not (what the phone shows). */
  latestTurn = $state.raw<TurnSummary | undefined>();
  telemetry = $state.raw<TelemetrySample[]>([]);
  telemetryIntervalMs = $state(1000);
  models = $state.raw<ModelsView | undefined>();
  server = $state.raw<ServerInfo | undefined>();
  /** Open timers, alarms and reminders, soonest first. */
  timers = $state.raw<TimerView[]>([]);
  /** A question JARVIS asked before a tool call ("Unlock the front door?"), waiting for yes or no. */
  confirmation = $state.raw<ConfirmationView | undefined>();
  /** The daemon's clock minus this screen's (from the last list), for countdowns right on a phone that is off. */
  clockOffsetMs = $state(0);
  /** The device that paired last, while this screen was watching. */
  lastPaired = $state.raw<{ name: string; role: string; at: number } | undefined>();
  /** When the link went down (for "offline for 12 s"). */
  offlineSince = $state<number | undefined>();

  /** The turns as the core keeps them: plain objects that the events change in place; summarised into the two above. */
  #turns: TurnView[] = [];

  /** Latest microphone level (dBFS) and when it came. */
  readonly micLevel = { dbfs: -120, at: 0 };
  /** Envelope of the sentence being spoken, from when it started. */
  readonly speakerLevel = { dbfs: [] as number[], frameMs: 50, startedAt: 0 };

  /** The answers' audio on this device, when asked for. */
  readonly speech = new SpeechPlayer();
  listening = $state(false);

  /**
   * The photo of the turn it was sent with (the core sends it once, when that turn starts), as an object URL of
   * bytes held in memory while a turn of it is on screen; never stored.
   */
  photo = $state.raw<{ runId: number; url: string } | undefined>();
  /** This phone sent a photo that waits on the core for the next question (asked by typing or by voice). */
  photoAttached = $state(false);

  readonly #socket: Socket<ServerToClientEvents, ClientToServerEvents>;

  constructor() {
    this.#socket = io({
      path: SOCKET_PATH,
      transports: ['websocket'],
      // A function, so each reconnection sends the token we hold now (after pairing, after a revoke).
      auth: (send) => send(loadToken() ? { token: loadToken() } : {}),
      reconnectionDelay: 500,
      reconnectionDelayMax: 4000,
      timeout: 6000,
    });
    const socket = this.#socket;
    socket.on('connect', () => {
      this.status = 'online';
      this.offlineSince = undefined;
    });
    socket.on('disconnect', (reason) => {
      this.status = 'offline';
      this.offlineSince ??= Date.now();
      // The server closed us on purpose (revoked): socket.io will not retry by itself; we do, as unpaired.
      if (reason === 'io server disconnect') setTimeout(() => socket.connect(), 1000);
    });
    socket.on('connect_error', () => {
      this.status = 'offline';
      this.offlineSince ??= Date.now();
    });
    socket.on('hello', (hello) => {
      if (hello.rejected) forgetToken();
      this.hello = hello;
      if (!hello.role) this.#forgetState();
      // A new connection starts without it: ask again.
      if (this.listening && hello.role === 'controller') void this.command('listen', { enabled: true });
    });
    socket.on('snapshot', (snapshot) => this.#applySnapshot(snapshot));
    socket.on('assistant', (view) => (this.assistant = view));
    socket.on('run-event', (event) => {
      this.#turns = addRunEvent(this.#turns, event);
      this.#showTurns();
      if (event.type === 'barge-in' || (event.type === 'playback-end' && event.interrupted)) this.speech.stop();
    });
    socket.on('speech', (audio) => this.speech.play(audio));
    socket.on('answer-delta', ({ runId, text }) => {
      const turn = this.#turns.find((t) => t.runId === runId);
      if (!turn) return;
      turn.answer += text;
      this.#showAnswer(turn);
    });
    socket.on('telemetry', (sample) => {
      const cutoff = sample.at - HISTORY_MS;
      const kept = this.telemetry.length > 0 && this.telemetry[0]!.at < cutoff ? this.telemetry.filter((s) => s.at >= cutoff) : this.telemetry;
      this.telemetry = [...kept, sample];
    });
    socket.on('level', (level) => this.#applyLevel(level));
    socket.on('models', (models) => (this.models = models));
    socket.on('timers', (view) => this.#applyTimers(view));
    socket.on('confirmation', (view) => (this.confirmation = view ?? undefined));
    socket.on('device-paired', ({ name, role }) => (this.lastPaired = { name, role, at: Date.now() }));
    socket.on('photo', (photo) => this.#showPhoto(photo));
  }

  get paired(): boolean {
    return this.hello?.role !== undefined;
  }

  get canControl(): boolean {
    return this.hello?.role === 'controller';
  }

  /** May answer JARVIS's yes/no questions: a controller, or the display on the JARVIS computer itself. */
  get canConfirm(): boolean {
    return this.canControl || this.hello?.device?.local === true;
  }

  /** May ask for pairing codes: a controller, or the display on the JARVIS computer itself. */
  get canPair(): boolean {
    return this.canControl || this.hello?.device?.local === true;
  }

  /** Sends a command; a lost link or a silent server becomes an error ack, never an exception. */
  async command<C extends CommandName>(name: C, payload: CommandInput<C>, timeoutMs = 8000): Promise<Ack<CommandResults[C]>> {
    if (!this.#socket.connected) return { ok: false, code: 'unavailable', message: 'not connected to JARVIS' };
    try {
      const emit = this.#socket.timeout(timeoutMs).emitWithAck as (name: string, payload: unknown) => Promise<Ack<CommandResults[C]>>;
      return await emit.call(this.#socket.timeout(timeoutMs), name, payload);
    } catch {
      return { ok: false, code: 'unavailable', message: 'JARVIS did not answer' };
    }
  }

  /** Binary audio for push-to-talk; no ack (the end of the recording is acknowledged). */
  sendAudio(pcm: Int16Array): void {
    if (this.#socket.connected) this.#socket.emit('talk-chunk', new Uint8Array(pcm.buffer, pcm.byteOffset, pcm.byteLength), () => {});
  }

  async pair(code: string, name: string): Promise<Ack<CommandResults['pair']>> {
    const ack = await this.command('pair', { code, name });
    if (ack.ok) saveToken(ack.token);
    return ack;
  }

  /** Plays the answers here too (call from a click: browsers start audio only after a gesture). */
  async setListening(enabled: boolean): Promise<Ack<CommandResults['listen']>> {
    if (enabled) await this.speech.enable();
    else this.speech.disable();
    const ack = await this.command('listen', { enabled });
    this.listening = ack.ok ? enabled : false;
    if (!ack.ok) this.speech.disable();
    return ack;
  }

  /**
   * Sends a photo to ask about (photo-start, its bytes in pieces, photo-end); the core checks what it is and holds
   * it for this device's next question. The ack says what the core took it for, or why it refused it.
   */
  async sendPhoto(photo: Blob): Promise<Ack<CommandResults['photo-end']>> {
    this.photoAttached = false;
    const bytes = new Uint8Array(await photo.arrayBuffer());
    const started = await this.command('photo-start', { bytes: bytes.byteLength });
    if (!started.ok) return started;
    const pieces: Promise<Ack<CommandResults['photo-chunk']>>[] = [];
    for (let at = 0; at < bytes.byteLength; at += LIMITS.photoChunkBytes) pieces.push(this.command('photo-chunk', bytes.subarray(at, at + LIMITS.photoChunkBytes)));
    const failed = (await Promise.all(pieces)).find((ack) => !ack.ok);
    if (failed && !failed.ok) return failed;
    const ack = await this.command('photo-end', {});
    this.photoAttached = ack.ok;
    return ack;
  }

  /** Takes back the photo sent (it is not asked about). */
  async dropPhoto(): Promise<void> {
    if (!this.photoAttached) return;
    this.photoAttached = false;
    await this.command('photo-drop', {});
  }

  /** The photo of `runId`'s turn, while it is shown. */
  photoOf(runId: number | undefined): string | undefined {
    return runId !== undefined && this.photo?.runId === runId ? this.photo.url : undefined;
  }

  /** Forgets this device's pairing here (the server keeps it until `jarvis devices revoke`). */
  unpair(): void {
    forgetToken();
    this.#socket.disconnect().connect();
  }

  #forgetState(): void {
    this.assistant = undefined;
    this.#turns = [];
    this.#showTurns();
    this.telemetry = [];
    this.models = undefined;
    this.server = undefined;
    this.timers = [];
    this.confirmation = undefined;
    this.#forgetPhoto();
  }

  #showPhoto(photo: PhotoView): void {
    this.#forgetPhoto();
    this.photo = { runId: photo.runId, url: URL.createObjectURL(new Blob([photo.data as Uint8Array<ArrayBuffer>], { type: photo.type })) };
  }

  /** The photo's bytes go as soon as no turn on screen is about it. */
  #forgetPhoto(): void {
    if (this.photo) URL.revokeObjectURL(this.photo.url);
    this.photo = undefined;
  }

  #applyTimers(view: TimersView): void {
    this.timers = view.timers;
    this.clockOffsetMs = view.at - Date.now();
  }

  #applySnapshot(snapshot: Snapshot): void {
    this.server = snapshot.server;
    this.assistant = snapshot.assistant;
    this.#turns = snapshot.turns;
    this.#showTurns();
    this.telemetry = snapshot.telemetry.history;
    this.telemetryIntervalMs = snapshot.telemetry.intervalMs;
    this.models = snapshot.models;
    this.#applyTimers(snapshot.timers);
    this.confirmation = snapshot.confirmation;
  }

  #showTurns(): void {
    if (this.photo && !this.#turns.some((t) => t.runId === this.photo!.runId)) this.#forgetPhoto();
    const asked = this.#turns.findLast(hasQuestion);
    const latest = this.#turns.at(-1);
    this.askedTurn = reuseUnchanged(this.askedTurn, asked && summarize(asked));
    this.latestTurn = latest === asked ? this.askedTurn : reuseUnchanged(this.latestTurn, latest && summarize(latest));
  }

  /** A piece of `turn`'s answer came: only the answer's text changes in what is shown (no summary of its events). */
  #showAnswer(turn: TurnView): void {
    const answer = answerText(turn);
    const withAnswer = (shown: TurnSummary | undefined) => (shown?.runId === turn.runId && shown.answer !== answer ? { ...shown, answer } : shown);
    const same = this.latestTurn === this.askedTurn;
    this.askedTurn = withAnswer(this.askedTurn);
    this.latestTurn = same ? this.askedTurn : withAnswer(this.latestTurn);
  }

  #applyLevel(level: AudioLevel): void {
    if (level.source === 'microphone') {
      this.micLevel.dbfs = level.dbfs;
      this.micLevel.at = performance.now();
    } else {
      this.speakerLevel.dbfs = level.dbfs;
      this.speakerLevel.frameMs = level.frameMs;
      this.speakerLevel.startedAt = performance.now();
    }
  }
}
