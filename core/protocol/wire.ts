import { z } from 'zod';
import type { RunEvent } from './run-events.ts';
import type { Phase, Problem } from './state.ts';

/**
 * The one wire protocol between the core and its screens (the wall HUD and the phone remote), over socket.io.
 * core/server implements it, hud/ speaks it; both import this file, so a change here is a change on both sides.
 *
 * A client connects with `auth: { token? }`. It first gets `hello` (who it is to the server); a viewer or
 * controller then gets `snapshot` (everything needed to draw the screen) and deltas after it. An unpaired client
 * gets `hello` and nothing else until it pairs. Every command is one socket.io event with one payload, validated
 * against `commandSchemas`, authorised by role per message, and answered with an `Ack`; anything else fails
 * closed with `{ ok: false }`.
 */

export const PROTOCOL_VERSION = 1;
/** The socket.io path; the HUD is served from the same origin. */
export const SOCKET_PATH = '/socket.io';

/**
 * viewer: sees everything, changes nothing (a wall HUD). controller: a paired phone, may also command.
 * The local display (a browser on the daemon's own machine) is a viewer that may also show pairing codes.
 */
export type Role = 'viewer' | 'controller';

// ─── server → client ──────────────────────────────────────────────────────────────────────────────────────

export interface Hello {
  protocol: number;
  /** Undefined: not paired. The client should show the pairing page and nothing else. */
  role?: Role;
  device?: { id: string; name: string; local: boolean };
  /** Why the token the client sent was not accepted (so it can forget it). */
  rejected?: 'unknown-token' | 'revoked';
}

export interface AssistantView {
  phase: Phase;
  problems: readonly Problem[];
  muted: boolean;
  /** Playback gain, 0..1. */
  volume: number;
}

export interface ServerInfo {
  version: string;
  /** URLs a phone can open (LAN addresses when LAN access is on, else this machine's loopback URL). */
  urls: string[];
  lan: boolean;
  /** SHA-256 fingerprint of the HTTPS certificate, to compare with what the phone's browser shows. */
  tlsFingerprint?: string;
  /**
   * With HTTPS: where a phone downloads this JARVIS's own certificate authority (a path on the server) to install
   * once, after which the browser trusts the server without a warning; and the authority's fingerprint.
   */
  authority?: { path: string; fingerprint: string };
}

export interface GpuSample {
  index: number;
  name: string;
  memoryUsedMiB?: number;
  memoryTotalMiB?: number;
  temperatureC?: number;
  powerDrawW?: number;
  powerLimitW?: number;
  utilizationPct?: number;
  smClockMHz?: number;
  memoryClockMHz?: number;
  fanPct?: number;
}

/** One process's share of GPU memory, labelled with the model it holds when that process is ours. */
export interface GpuMemoryUse {
  pid: number;
  label: string;
  usedMiB: number;
}

export type GpuStatus =
  | { available: true; gpus: GpuSample[]; processes: GpuMemoryUse[] }
  | { available: false; reason: string; fix?: string };

export interface SystemSample {
  /** All cores, 0..100 over the last interval. */
  cpuPct: number;
  cores: number;
  cpuTemperatureC?: number;
  memoryUsedMiB: number;
  memoryTotalMiB: number;
  /** Resident memory of the daemon and of its child processes (the LLM worker). */
  processRssMiB: number;
}

export interface TelemetrySample {
  /** Wall-clock ms (Date.now()): samples are plotted against time of day. */
  at: number;
  gpu: GpuStatus;
  system: SystemSample;
}

export type ModelKind = 'stt' | 'llm' | 'tts';

/** The problem id each stage is reported under while its model cannot be used (missing, broken, not loaded). */
/** The GPU governor's problem while it keeps answers short for a hot GPU (core/daemon/gpu-link.ts). */
export const GPU_HOT_PROBLEM = 'gpu-hot';

export const MODEL_PROBLEM: Readonly<Record<ModelKind, string>> = { stt: 'stt-model', llm: 'llm-model', tts: 'tts-voice' };

export interface ModelView {
  kind: ModelKind;
  name: string;
  state: 'ready' | 'missing' | 'downloading' | 'error';
  /** 0..1 while downloading. */
  progress?: number;
  /** While downloading: bytes so far and in all (the catalog's size until the server says), and the current speed. */
  receivedBytes?: number;
  totalBytes?: number;
  bytesPerSecond?: number;
  detail?: string;
}

export interface ModelsView {
  active: ModelView[];
  /** Ids a controller may switch to; empty when switching is not available. */
  choices: { id: string; name: string; kind: ModelKind }[];
  switchAvailable: boolean;
}

/** A turn: its run events (bounded) and the answer text as streamed so far. */
export interface TurnView {
  runId: number;
  events: RunEvent[];
  answer: string;
}

/** Run events kept per turn: a long answer has a sentence, tts and playback event per sentence. */
export const MAX_TURN_EVENTS = 300;

/**
 * How a screen's list of turns follows the run events (the server for its snapshots, the HUD for what it
 * draws): the last turn that asked something stays until a later run asks something too; a run that never gets
 * a question (no speech after the wake word) replaces only another such run. Appends to the turn's events in
 * place and returns the list to keep.
 */
/**
 * Whether the turn asked something (a transcript, even one still being spoken, or a typed question): the wall
 * keeps showing the last such turn.
 */
export function hasQuestion(turn: TurnView): boolean {
  return turn.events.some((e) => e.type === 'stt-end' || e.type === 'llm-start' || e.type === 'stt-partial');
}

export function addRunEvent(turns: TurnView[], event: RunEvent): TurnView[] {
  let kept = turns;
  if (event.type === 'run-start') kept = [...turns.filter(hasQuestion).slice(-1), { runId: event.runId, events: [], answer: '' }];
  const turn = kept.find((t) => t.runId === event.runId);
  if (turn && turn.events.length < MAX_TURN_EVENTS) turn.events.push(event);
  if ((event.type === 'stt-end' || event.type === 'llm-start') && kept.length > 1 && kept.at(-1)?.runId === event.runId) kept = kept.slice(-1);
  return kept;
}

/** An open timer, alarm or reminder (core/skills): pending, or ringing until someone stops it. */
export interface TimerView {
  id: number;
  kind: 'timer' | 'alarm' | 'reminder';
  /** What it was called ("pasta"; a reminder's text); none when it was not given one. */
  label?: string;
  /** Epoch ms (the daemon's clock) at which it rings. */
  dueAt: number;
  /** The length asked for ("a 5 minute timer"); timers only. */
  durationMs?: number;
  ringing: boolean;
}

/** The open timers, soonest first, and the daemon's clock when the list was sent (so a screen whose clock is off can correct for it). */
export interface TimersView {
  at: number;
  timers: TimerView[];
}

/**
 * A question JARVIS asked before calling a tool whose policy is "confirm" ("Unlock the front door?"): answered by
 * voice, or with the 'confirm' command from a screen, before `expiresAt` (the daemon's epoch ms); then it is not done.
 */
export interface ConfirmationView {
  id: number;
  question: string;
  expiresAt: number;
}

export interface Snapshot {
  server: ServerInfo;
  assistant: AssistantView;
  /** The last turn that had a question, and the run in progress if it is a later one; oldest first. */
  turns: TurnView[];
  telemetry: { intervalMs: number; history: TelemetrySample[] };
  models: ModelsView;
  timers: TimersView;
  /** The question waiting for yes or no, if any. */
  confirmation?: ConfirmationView;
}

/**
 * Audio level for the state indicator. The microphone sends one value per interval as it is heard; the speaker
 * sends a sentence's whole envelope when it starts playing, to be drawn over `frameMs` steps from then on.
 */
export type AudioLevel = { source: 'microphone'; dbfs: number } | { source: 'speaker'; frameMs: number; dbfs: number[] };

/** What the speaker plays, for a phone that asked to hear the answers too: mono s16le PCM. */
export interface SpeechAudio {
  sampleRate: number;
  pcm: Uint8Array;
}

export interface AnswerDelta {
  runId: number;
  text: string;
}

/**
 * The photo a turn is about (the phone remote's "look"), sent once to the screens when the turn starts, to be shown
 * beside its answer. Screens hold it in memory (an object URL) while they show that turn; the core keeps it only for
 * the turn, and writes it nowhere unless llm.roles.vision.keepPhotos asks it to.
 */
export interface PhotoView {
  runId: number;
  /** What the bytes are, by their magic number: image/jpeg, image/png or image/webp. */
  type: string;
  data: Uint8Array;
}

export interface ServerToClientEvents {
  hello: (hello: Hello) => void;
  snapshot: (snapshot: Snapshot) => void;
  assistant: (view: AssistantView) => void;
  'run-event': (event: RunEvent) => void;
  'answer-delta': (delta: AnswerDelta) => void;
  telemetry: (sample: TelemetrySample) => void;
  level: (level: AudioLevel) => void;
  models: (models: ModelsView) => void;
  /** The whole list again whenever a timer is set, cancelled, rings or ends (here or by another process). */
  timers: (timers: TimersView) => void;
  /** A confirmation question was asked (the view) or answered, dropped or expired (null). */
  confirmation: (confirmation: ConfirmationView | null) => void;
  /** To phones that asked for it ('listen'): each chunk of the answer's audio as it starts playing. */
  speech: (audio: SpeechAudio) => void;
  /** A turn about a photo started: the photo, to show beside the answer. */
  photo: (photo: PhotoView) => void;
  /** A device has just paired (so the screen showing the code can put it away). */
  'device-paired': (device: { id: string; name: string; role: Role }) => void;
}

// ─── client → server ──────────────────────────────────────────────────────────────────────────────────────

export type AckError = { ok: false; code: AckErrorCode; message: string; fix?: string };
export type Ack<T extends object = object> = ({ ok: true } & T) | AckError;
export type AckErrorCode =
  | 'unknown-command'
  | 'invalid'
  | 'forbidden'
  | 'rate-limited'
  | 'bad-code'
  | 'unavailable'
  | 'busy'
  | 'not-found'
  | 'failed';

/** Hard limits the server enforces (the HUD uses them to stay inside). */
export const LIMITS = {
  questionChars: 2000,
  deviceNameChars: 60,
  /** One push-to-talk chunk: 16 kHz s16le mono, at most half a second. */
  talkChunkBytes: 16_000,
  /** A push-to-talk request longer than this is cut (and answered). */
  talkMaxMs: 30_000,
  /** A photo sent to look at, whole (the phone makes it a JPEG of at most photoMaxSide pixels first). */
  photoBytes: 2 * 1024 * 1024,
  /** One piece of a photo on its way (under server.maxMessageBytes' default of 64 KiB with the framing). */
  photoChunkBytes: 48 * 1024,
  /** The phone scales a photo down to this many pixels on its longer side before sending it. */
  photoMaxSide: 1600,
} as const;

export const PAIRING_CODE_DIGITS = 6;

const empty = z.strictObject({}).optional();

export const commandSchemas = {
  /** The only command an unpaired client may send. */
  pair: z.strictObject({
    code: z.string().regex(new RegExp(`^\\d{${PAIRING_CODE_DIGITS}}$`), `${PAIRING_CODE_DIGITS} digits`),
    name: z.string().trim().min(1).max(LIMITS.deviceNameChars),
  }),
  /** Ask for a new single-use code to pair a phone (controller) or another screen (viewer). */
  'pairing-code': z.strictObject({ role: z.enum(['viewer', 'controller']).default('controller') }),
  /** `photo`: the question is about the photo this device just sent (photo-start … photo-end). */
  ask: z.strictObject({ text: z.string().trim().min(1).max(LIMITS.questionChars), photo: z.boolean().optional() }),
  stop: empty,
  mute: z.strictObject({ muted: z.boolean() }),
  volume: z.strictObject({ volume: z.number().min(0).max(1) }),
  /** Hold-to-talk pressed: a turn starts listening without the wake word. */
  'talk-start': empty,
  /** 16 kHz mono s16le PCM, sent as binary. */
  'talk-chunk': z.custom<Uint8Array>(
    (value) => value instanceof Uint8Array && value.byteLength > 0 && value.byteLength % 2 === 0 && value.byteLength <= LIMITS.talkChunkBytes,
    `binary 16-bit PCM, an even number of bytes up to ${LIMITS.talkChunkBytes}`,
  ),
  /** Released: the recorded request is answered (`photo`: about the photo this device just sent). */
  'talk-end': z.strictObject({ photo: z.boolean().optional() }).optional(),
  /** Released outside the button: the recording is dropped. */
  'talk-cancel': empty,
  'switch-model': z.strictObject({ id: z.string().min(1).max(200) }),
  /** Downloads that failed (offline on a first run) are tried again now instead of after their back-off. */
  'retry-downloads': empty,
  /** Forget the conversation so far (`jarvis forget --all`): the model keeps nothing of what was asked. */
  'forget-conversation': empty,
  /** Yes or no to the confirmation question `id` (a tap on the HUD or the phone). */
  confirm: z.strictObject({ id: z.number().int().min(1), answer: z.boolean() }),
  /** Also play the answers on this phone (sent as 'speech' events). */
  listen: z.strictObject({ enabled: z.boolean() }),
  /**
   * A photo to ask about ("look"), in pieces: photo-start with its size (at most LIMITS.photoBytes), photo-chunk
   * with each piece as binary, photo-end; then ask or talk-end with `photo: true`. The core checks what the bytes
   * are (JPEG, PNG or WebP, by their magic number) and holds them for that one question only.
   */
  'photo-start': z.strictObject({ bytes: z.number().int().min(1, 'a photo of at least one byte') }),
  'photo-chunk': z.custom<Uint8Array>(
    (value) => value instanceof Uint8Array && value.byteLength > 0 && value.byteLength <= LIMITS.photoChunkBytes,
    `binary, up to ${LIMITS.photoChunkBytes} bytes`,
  ),
  'photo-end': empty,
  /** Forget the photo sent (the user took it back). */
  'photo-drop': empty,
  /**
   * Open a document a source under an answer came from (`document`: its id in the knowledge index, from the
   * `knowledge` run event), at `page` for a PDF: answered with a link to open in a new tab, valid a few minutes.
   */
  'open-document': z.strictObject({ document: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER), page: z.number().int().min(1).max(100_000).optional() }),
} as const;

export type CommandName = keyof typeof commandSchemas;
export type CommandPayload<C extends CommandName> = z.output<(typeof commandSchemas)[C]>;
/** What a client passes (defaults may be left out). */
export type CommandInput<C extends CommandName> = z.input<(typeof commandSchemas)[C]>;

export interface CommandResults {
  pair: { token: string; role: Role; deviceId: string };
  'pairing-code': { code: string; expiresAt: number; url: string; qrSvg: string; role: Role };
  ask: object;
  stop: object;
  mute: { muted: boolean };
  volume: { volume: number };
  'talk-start': { runId: number };
  'talk-chunk': object;
  'talk-end': { runId: number };
  'talk-cancel': object;
  'switch-model': object;
  /** Whether failed downloads were waiting to be tried again. */
  'retry-downloads': { retried: boolean };
  'forget-conversation': object;
  confirm: object;
  listen: { enabled: boolean };
  'photo-start': object;
  'photo-chunk': { received: number };
  /** What the photo is (by its bytes) and its size. */
  'photo-end': { type: string; bytes: number };
  'photo-drop': object;
  /** `url`: this server's path to the document (with #page=N for a PDF); `type`: its Content-Type. */
  'open-document': { url: string; type: string; name: string };
}

/** Who may send what. `local` is the trusted display on the daemon's own machine. */
export function mayCommand(command: CommandName, who: { role?: Role; local?: boolean }): boolean {
  if (command === 'pair') return true;
  // The wall display on this computer (and `jarvis` run here, which speaks as it) may show pairing codes, retry
  // downloads, forget the conversation and answer a question JARVIS asked aloud in its room: nothing else.
  if (command === 'pairing-code' || command === 'retry-downloads' || command === 'forget-conversation' || command === 'confirm') return who.role === 'controller' || who.local === true;
  // Reading a source of an answer shown on the screen: every paired screen, viewers too, and the wall display here.
  if (command === 'open-document') return who.role !== undefined || who.local === true;
  return who.role === 'controller';
}

export function isCommandName(name: unknown): name is CommandName {
  return typeof name === 'string' && Object.hasOwn(commandSchemas, name);
}

export type ClientToServerEvents = {
  [C in CommandName]: (payload: CommandInput<C>, ack: (result: Ack<CommandResults[C]>) => void) => void;
};
