import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import { JarvisError } from './errors.ts';

/**
 * What JARVIS's clients of OpenAI-compatible servers share: the LLM (core/llm/openai-responder.ts), speech to text
 * (voice/stt/openai.ts) and the voice (voice/tts/openai.ts). One way to build the `openai` client (key from the
 * config or the environment, timeout, retries with the client's back-off), and one way to turn whatever it throws
 * into a short sentence the user can be told and a fix that names the setting to change. It lives at the bottom
 * so that voice/ can use it without importing core/. The API key is never logged or put in an error.
 */

export interface OpenAiServerSettings {
  /** The server's OpenAI-compatible root, e.g. http://127.0.0.1:8080/v1. */
  readonly baseUrl: string;
  readonly apiKey?: string | undefined;
  /** No answer for this long: the server is treated as down. */
  readonly timeoutMs: number;
  /** Retries of a refused connection, a 429 or a 5xx, with the client's back-off. */
  readonly maxRetries: number;
}

/** Which of JARVIS's servers this is, as the user knows it and configures it. */
export interface ServerRole {
  /** Prefix of the error codes: "llm" gives llm-remote-unreachable, llm-remote-auth, … (vision: llm.roles.vision). */
  readonly stage: 'llm' | 'stt' | 'tts' | 'vision';
  /** How a sentence names it: "the model server", "the speech-to-text server". */
  readonly noun: string;
  /** Where its settings are: "llm.openai". */
  readonly settings: string;
  /** The environment variable the key is read from. */
  readonly keyEnv: string;
}

/** A server JARVIS uses could not do what was asked: down, slow, refusing the key, busy, failing. */
export class ModelServerError extends JarvisError {
  constructor(
    readonly stage: ServerRole['stage'],
    code: string,
    message: string,
    fix: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, fix, options);
  }
}

/** The key from the config, else from the named environment variable; undefined when neither has one. */
export function apiKeyFrom(configured: string | undefined, envName: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return configured ?? (env[envName] || undefined);
}

export function openAiClient(server: OpenAiServerSettings): OpenAI {
  return new OpenAI({
    baseURL: server.baseUrl,
    // Local servers take any key; the client insists on one.
    apiKey: server.apiKey ?? 'none',
    timeout: server.timeoutMs,
    maxRetries: server.maxRetries,
  });
}

/**
 * A short sentence for the user and the fix, from whatever the client threw. `notFound` explains a 404, which means
 * different things to different servers (a model it lacks, a path it does not serve). A JarvisError or a user's
 * abort is returned as it is; anything else the client did not make is returned unchanged, for the caller to judge.
 */
export function explainServerError(error: unknown, server: OpenAiServerSettings, role: ServerRole, notFound: () => JarvisError): unknown {
  if (error instanceof JarvisError || error instanceof APIUserAbortError) return error;
  const where = `${role.noun} at ${server.baseUrl}`;
  const failed = (kind: string, message: string, fix: string) => new ModelServerError(role.stage, `${role.stage}-remote-${kind}`, message, fix, { cause: error });
  if (error instanceof APIConnectionTimeoutError) {
    return failed('timeout', `${where} did not answer within ${server.timeoutMs} ms`, `Check that the server is running and not overloaded, or raise ${role.settings}.timeoutMs.`);
  }
  if (error instanceof APIConnectionError) {
    return failed('unreachable', `${where} cannot be reached`, `Start the server, or set ${role.settings}.baseUrl to where it runs.`);
  }
  if (error instanceof APIError) {
    const status = error.status;
    if (status === 401 || status === 403) {
      return failed('auth', `${where} refused the API key (HTTP ${status})`, `Set the right key in the ${role.keyEnv} environment variable or ${role.settings}.apiKey.`);
    }
    if (status === 404) return notFound();
    if (status === 429) return failed('busy', `${where} is busy (HTTP 429, too many requests)`, 'Wait a moment and ask again; JARVIS already retried.');
    // The client's message starts with the status again ("500 The server had an error…").
    const said = firstLine(error.message.replace(/^\d{3} /, ''));
    // An older llama-server started without its Jinja templates refuses every request that offers functions.
    const fix = /--jinja/.test(said)
      ? 'Start llama-server with --jinja (function calling needs its Jinja chat templates; recent builds have them on), or set skills.tools to false.'
      : "Check the server's log.";
    return failed('failed', `${where} failed (HTTP ${status ?? '?'}: ${said})`, fix);
  }
  return error;
}

/** The first line of a server's message, cut to a length that fits a spoken or shown sentence. */
export function firstLine(text: string): string {
  const line = text.split('\n')[0]!.trim();
  return line.length > 120 ? `${line.slice(0, 117)}…` : line;
}

/** "host:port" of a base URL, as the HUD and the log name a server. */
export function serverHost(baseUrl: string): string {
  return new URL(baseUrl).host;
}
