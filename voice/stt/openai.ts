import { toFile } from 'openai';
import type OpenAI from 'openai';
import { abortError, JarvisError } from '../../base/errors.ts';
import { apiKeyFrom, explainServerError, ModelServerError, openAiClient, serverHost, type OpenAiServerSettings, type ServerRole } from '../../base/openai-server.ts';
import type { JarvisConfig } from '../../config/schema.ts';
import { samplesToMs } from '../pcm.ts';
import { CAPTURE_SAMPLE_RATE, type Transcriber, type Transcript } from '../ports.ts';
import { encodeWav } from '../wav.ts';

/**
 * Speech to text by an OpenAI-compatible server (`stt.engine: "openai"`): faster-whisper-server / speaches, whisper.cpp's
 * whisper-server, OpenAI itself. Each request goes as a 16 kHz mono WAV to POST /audio/transcriptions through the
 * `openai` client; a barge-in aborts the HTTP request (whisper-server then stops decoding). Failures become short
 * sentences with a fix (base/openai-server.ts), the turn says one and goes on. Nothing is loaded here: a server that
 * is down at start is met at the first request, and `jarvis doctor` asks it for real.
 */

export interface OpenAiSttSettings extends OpenAiServerSettings {
  readonly model: string;
  /** ISO-639-1, as Whisper servers take it ("en"). */
  readonly language: string;
}

export const SPEECH_TO_TEXT_SERVER: ServerRole = { stage: 'stt', noun: 'the speech-to-text server', settings: 'stt.openai', keyEnv: 'OPENAI_API_KEY' };

const disposedError = () => new JarvisError('stt-disposed', 'the speech-to-text server client was used after dispose()', 'Create a new transcriber; dispose() is final.');

export class OpenAiTranscriber implements Transcriber {
  readonly engine = 'openai';
  readonly #client: OpenAI;
  readonly #settings: OpenAiSttSettings;
  readonly #role: ServerRole;
  #disposed = false;

  constructor(settings: OpenAiSttSettings, role: ServerRole = SPEECH_TO_TEXT_SERVER) {
    this.#settings = settings;
    this.#role = role;
    this.#client = openAiClient(settings);
  }

  /** For the start-up log and `jarvis doctor`. */
  get description(): string {
    return `${this.#settings.model} at ${serverHost(this.#settings.baseUrl)} (OpenAI-compatible speech-to-text server)`;
  }

  /** Nothing to load: the model is the server's. */
  async load(): Promise<void> {
    if (this.#disposed) throw disposedError();
  }

  async transcribe(pcm16k: Int16Array, signal?: AbortSignal): Promise<Transcript> {
    if (this.#disposed) throw disposedError();
    if (signal?.aborted) throw abortError(signal, 'transcription aborted');
    const file = await toFile(encodeWav({ samples: pcm16k, sampleRate: CAPTURE_SAMPLE_RATE }), 'request.wav', { type: 'audio/wav' });
    let text: unknown;
    try {
      const answer = await this.#client.audio.transcriptions.create(
        { file, model: this.#settings.model, language: this.#settings.language, response_format: 'json' },
        signal ? { signal } : {},
      );
      text = (answer as { text?: unknown }).text;
    } catch (error) {
      if (signal?.aborted) throw abortError(signal, 'transcription aborted');
      throw explainServerError(error, this.#settings, this.#role, () => this.#notFound());
    }
    if (typeof text !== 'string') {
      throw new ModelServerError('stt', 'stt-remote-failed', `${this.#role.noun} at ${this.#settings.baseUrl} answered without a transcript`, 'Check that stt.openai.baseUrl points at an OpenAI-compatible speech-to-text server.');
    }
    // Servers end each segment with a newline (whisper-server) or a space: one line, as the local engines give it.
    return { text: text.replace(/\s+/g, ' ').trim(), audioMs: samplesToMs(pcm16k.length, CAPTURE_SAMPLE_RATE) };
  }

  /** `jarvis doctor`: a second of silence transcribed for real; says how soon the server answered. */
  async check(): Promise<string> {
    const started = performance.now();
    await this.transcribe(new Int16Array(CAPTURE_SAMPLE_RATE));
    return `${this.description}: transcribed 1 s of audio in ${Math.round(performance.now() - started)} ms`;
  }

  async dispose(): Promise<void> {
    this.#disposed = true;
  }

  /** A 404 is a model the server lacks, or a server that does not serve this path at all (whisper-server by default). */
  #notFound(): JarvisError {
    const { baseUrl, model } = this.#settings;
    return new ModelServerError(
      'stt',
      'stt-remote-not-found',
      `${this.#role.noun} at ${baseUrl} has no model "${model}" or no /audio/transcriptions (HTTP 404)`,
      'Set stt.openai.baseUrl to the server\'s OpenAI-compatible root (usually ending in /v1) and stt.openai.model to a model it has; start whisper.cpp\'s whisper-server with --inference-path /v1/audio/transcriptions.',
    );
  }
}

/** The transcriber for `stt.engine: "openai"`: the key from stt.openai.apiKey, else from the variable apiKeyEnv names. */
export function openAiTranscriber(stt: JarvisConfig['stt'], env: NodeJS.ProcessEnv = process.env): OpenAiTranscriber {
  const { baseUrl, model, apiKey, apiKeyEnv, timeoutMs, maxRetries } = stt.openai;
  return new OpenAiTranscriber(
    { baseUrl, model, language: stt.language, apiKey: apiKeyFrom(apiKey, apiKeyEnv, env), timeoutMs, maxRetries },
    { ...SPEECH_TO_TEXT_SERVER, keyEnv: apiKeyEnv },
  );
}
