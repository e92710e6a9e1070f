import type OpenAI from 'openai';
import { abortError, JarvisError } from '../../base/errors.ts';
import { apiKeyFrom, explainServerError, firstLine, ModelServerError, openAiClient, serverHost, type OpenAiServerSettings, type ServerRole } from '../../base/openai-server.ts';
import type { JarvisConfig } from '../../config/schema.ts';
import type { PcmAudio, SpeechRequest, Synthesizer } from '../ports.ts';
import { durationMs } from '../wav.ts';
import { StreamedAudioDecoder, UnplayableAudioError, type StreamedFormat } from './streamed-audio.ts';

/**
 * The voice of an OpenAI-compatible speech server (`tts.engine: "openai"`): kokoro-fastapi, speaches, the
 * OpenAI-style front-ends of XTTS and F5-TTS, OpenAI itself. One POST /audio/speech per sentence, as Piper is used,
 * so sentence 2 is asked for while sentence 1 plays; the audio (WAV, or raw PCM at an agreed rate) is read as it
 * streams in, and an abort (barge-in) cancels the request mid-stream. A failed sentence throws a short error with a
 * fix; the daemon puts espeak-ng behind this voice (tts/fallback.ts), which then says it.
 */

export interface OpenAiTtsSettings extends OpenAiServerSettings {
  readonly model: string;
  readonly voice: string;
  readonly audio: StreamedFormat;
  /** Speaking rate (OpenAI's `speed`): 1 normal. */
  readonly rate: number;
}

export const VOICE_SERVER: ServerRole = { stage: 'tts', noun: 'the voice server', settings: 'tts.openai', keyEnv: 'OPENAI_API_KEY' };

/** One sentence is never this much audio (2 minutes at 48 kHz): a server sending more is misbehaving. */
const MAX_SENTENCE_BYTES = 16_000_000;

export class OpenAiSynthesizer implements Synthesizer {
  readonly engine = 'openai';
  readonly #client: OpenAI;
  readonly #settings: OpenAiTtsSettings;
  readonly #role: ServerRole;
  #disposed = false;

  constructor(settings: OpenAiTtsSettings, role: ServerRole = VOICE_SERVER) {
    this.#settings = settings;
    this.#role = role;
    this.#client = openAiClient(settings);
  }

  /** For the start-up log and `jarvis doctor`. */
  get description(): string {
    const { model, voice, baseUrl } = this.#settings;
    return `voice "${voice}" of ${model} at ${serverHost(baseUrl)} (OpenAI-compatible speech server)`;
  }

  /**
   * Nothing to load, and the server is not asked: a voice that fails to load is replaced by espeak-ng for good,
   * while a server that is down now may be up for the first answer (each sentence tries it).
   */
  async load(): Promise<void> {
    if (this.#disposed) throw this.#disposedError();
  }

  async synthesize(request: SpeechRequest): Promise<PcmAudio> {
    const { text, signal } = request;
    if (this.#disposed) throw this.#disposedError();
    if (signal?.aborted) throw abortError(signal, 'speech aborted');
    const { model, voice, audio, rate, timeoutMs, baseUrl } = this.#settings;
    // The client's timeout ends when the headers arrive; a stream that stops after them is caught here.
    const stalled = new AbortController();
    const either = signal ? AbortSignal.any([signal, stalled.signal]) : stalled.signal;
    let idle: NodeJS.Timeout | undefined;
    const watch = () => {
      clearTimeout(idle);
      idle = setTimeout(() => stalled.abort(), timeoutMs);
    };
    const where = `${this.#role.noun} at ${baseUrl}`;
    try {
      let response: Response;
      try {
        response = await this.#client.audio.speech.create(
          { model, voice, input: text, response_format: audio.format, ...(rate === 1 ? {} : { speed: rate }) },
          { signal: either },
        );
      } catch (error) {
        if (signal?.aborted) throw abortError(signal, 'speech aborted');
        throw explainServerError(error, this.#settings, this.#role, () => this.#notFound());
      }
      if (!response.body) throw new ModelServerError('tts', 'tts-remote-failed', `${where} answered without audio`, "Check the server's log.");
      const decoder = new StreamedAudioDecoder(audio, MAX_SENTENCE_BYTES);
      const reader = response.body.getReader();
      watch();
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          watch();
          decoder.push(value);
        }
      } catch (error) {
        void reader.cancel().catch(() => {});
        if (signal?.aborted) throw abortError(signal, 'speech aborted');
        if (stalled.signal.aborted) {
          throw new ModelServerError('tts', 'tts-remote-timeout', `${where} stopped sending audio for ${timeoutMs} ms`, 'Check that the server is running and not overloaded, or raise tts.openai.timeoutMs.', { cause: error });
        }
        if (error instanceof UnplayableAudioError) throw this.#unplayable(error);
        throw new ModelServerError('tts', 'tts-remote-cut', `${where} stopped in the middle of a sentence (${firstLine(String((error as Error)?.message ?? error))})`, 'Check that the server is still running; the next sentence tries it again.', { cause: error });
      }
      let pcm: PcmAudio;
      try {
        pcm = decoder.finish();
      } catch (error) {
        throw error instanceof UnplayableAudioError ? this.#unplayable(error) : error;
      }
      if (pcm.samples.length === 0) throw new ModelServerError('tts', 'tts-remote-empty', `${where} sent no audio for "${firstLine(text)}"`, `Check that the server has the voice "${voice}" (tts.openai.voice).`);
      return pcm;
    } finally {
      clearTimeout(idle);
    }
  }

  /** `jarvis doctor`: one word said for real; says how soon it came and what came. */
  async check(): Promise<string> {
    const started = performance.now();
    const audio = await this.synthesize({ text: 'Ready.' });
    return `${this.description}: "Ready." in ${Math.round(performance.now() - started)} ms (${Math.round(durationMs(audio))} ms of audio at ${audio.sampleRate} Hz)`;
  }

  async dispose(): Promise<void> {
    this.#disposed = true;
  }

  #unplayable(error: UnplayableAudioError): JarvisError {
    const other = this.#settings.audio.format === 'wav' ? 'set tts.openai.format to "pcm" (with tts.openai.sampleRate)' : 'set tts.openai.format to "wav"';
    return new ModelServerError('tts', 'tts-remote-audio', `${this.#role.noun} at ${this.#settings.baseUrl} sent audio JARVIS cannot play: ${error.message}`, `Check the server's audio settings, or ${other}.`, { cause: error });
  }

  #notFound(): JarvisError {
    const { baseUrl, model } = this.#settings;
    return new ModelServerError(
      'tts',
      'tts-remote-not-found',
      `${this.#role.noun} at ${baseUrl} has no model "${model}" or no /audio/speech (HTTP 404)`,
      "Set tts.openai.baseUrl to the server's OpenAI-compatible root (usually ending in /v1) and tts.openai.model to a model it has.",
    );
  }

  #disposedError(): JarvisError {
    return new JarvisError('tts-disposed', 'the voice server client was used after dispose()', 'Create a new synthesizer; dispose() is final.');
  }
}

/** The voice for `tts.engine: "openai"`: the key from tts.openai.apiKey, else from the variable apiKeyEnv names. */
export function openAiSynthesizer(tts: JarvisConfig['tts'], env: NodeJS.ProcessEnv = process.env): OpenAiSynthesizer {
  const { baseUrl, model, voice, apiKey, apiKeyEnv, timeoutMs, maxRetries, format, sampleRate } = tts.openai;
  return new OpenAiSynthesizer(
    {
      baseUrl,
      model,
      voice,
      apiKey: apiKeyFrom(apiKey, apiKeyEnv, env),
      timeoutMs,
      maxRetries,
      rate: tts.rate,
      audio: format === 'pcm' ? { format, sampleRate } : { format },
    },
    { ...VOICE_SERVER, keyEnv: apiKeyEnv },
  );
}
