import path from 'node:path';
import type { JarvisConfig, VisionRoleConfig } from '../../config/schema.ts';
import { isAbortError, JarvisError, ModelFileError } from '../../base/errors.ts';
import { encodePng } from '../../base/image-type.ts';
import { apiKeyFrom, serverHost, type ServerRole } from '../../base/openai-server.ts';
import { VISION_CONTEXT_CAP } from '../../models/vision-fit.ts';
import { FrontResponder } from '../front-responder.ts';
import type { Responder, ResponderInfo, ResponseRequest } from '../responder.ts';
import { LlamaServerProcess, LOCAL_MODEL_ALIAS } from './llama-server.ts';
import { OpenAiResponder } from './openai-responder.ts';

/**
 * The vision role (llm.roles.vision): a question that comes with a photo ("what is this?", "read this label") is
 * answered by a model that reads images, never by the chat model, the skills or the documents. The model is an
 * OpenAI-compatible server (backend "openai": llama-server with --mmproj, Ollama with llava or moondream, vLLM), or
 * a llama-server JARVIS starts itself on loopback with the configured model and projector (backend "local",
 * started on the first photo and kept running). The photo travels as a data URL in the request and is kept
 * nowhere: the conversation remembers only the words. Without a vision role a photo question is answered with a
 * short apology, and the screen says how to set one up.
 */

/** A vision request that could not be answered: what went wrong, its fix, and what is said aloud. */
export class VisionError extends JarvisError {
  constructor(
    code: string,
    message: string,
    fix: string,
    readonly spoken: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, fix, options);
  }
}

export const VISION_SPOKEN = {
  notConfigured: 'Sorry, I cannot look at photos yet: no vision model is set up. The screen says how.',
  failed: 'Sorry, I cannot look at the photo right now. The screen says what is wrong.',
} as const;

export function visionNotConfigured(): VisionError {
  return new VisionError(
    'vision-not-configured',
    'a photo came with the question, but no vision model is configured (llm.roles.vision)',
    'Set llm.roles.vision in the config: backend "openai" with the baseUrl and model of a vision server (llama-server with --mmproj, Ollama with llava or moondream), or backend "local" with "model" and "projector" files. The README\'s "Look at something" shows both.',
    VISION_SPOKEN.notConfigured,
  );
}

/** Answers requests with a photo through `vision` (none: the not-configured apology), the rest through `inner`. */
export class VisionRouter extends FrontResponder {
  readonly #vision: Responder | undefined;

  constructor(inner: Responder, vision: Responder | undefined) {
    super(inner);
    this.#vision = vision;
  }

  async *respond(request: ResponseRequest): AsyncIterable<string> {
    if (!request.image) {
      this.answeredHere = false;
      yield* this.inner.respond(request);
      return;
    }
    // The chat model's conversation never sees the photo's question or answer.
    this.answeredHere = true;
    if (!this.#vision) throw visionNotConfigured();
    try {
      yield* this.#vision.respond(request);
    } catch (error) {
      if (isAbortError(error) || request.signal.aborted || error instanceof VisionError || error instanceof ModelFileError) throw error;
      const { code, message, fix } = error instanceof JarvisError ? error : { code: 'vision-failed', message: String((error as Error)?.message ?? error), fix: "Check the vision server's log." };
      // A server whose model reads no images (llama-server without --mmproj: "image input is not supported").
      const blind = code === 'vision-remote-failed' && /image|mmproj|multimodal|vision/i.test(message);
      const howToSee = 'Give the server a model that reads images: llama-server with --mmproj and the projector that belongs to its model, or in Ollama a vision model (llava, moondream) named in llm.roles.vision.openai.model.';
      throw new VisionError(blind ? 'vision-remote-blind' : code, message, blind ? howToSee : fix, VISION_SPOKEN.failed, { cause: error });
    }
  }

  /** Stops the vision model (a llama-server of ours goes with it); the chain behind is its owner's to dispose. */
  async disposeVision(): Promise<void> {
    await this.#vision?.dispose();
  }

  override async dispose(): Promise<void> {
    await Promise.allSettled([this.disposeVision(), this.inner.dispose()]);
  }
}

/** `answers` with the configured vision role in front of it for questions that come with a photo. */
export function withVision(llm: JarvisConfig['llm'], answers: Responder, env: NodeJS.ProcessEnv = process.env): VisionRouter {
  const role = llm.roles.vision;
  if (!role) return new VisionRouter(answers, undefined);
  try {
    return new VisionRouter(answers, visionResponder(llm, role, env));
  } catch (error) {
    // A vision role set up wrong costs the photo questions, never the daemon: each says what to fix.
    return new VisionRouter(answers, new UnusableVision(error));
  }
}

/**
 * `jarvis doctor`: the vision role answers a question about a small test picture for real (a llama-server of our own
 * is started for it and stopped after), and how soon its answer begins.
 */
export async function checkVisionRole(llm: JarvisConfig['llm'], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const role = llm.roles.vision;
  if (!role) throw visionNotConfigured();
  const router = withVision({ ...llm, maxAnswerTokens: 4 }, new UnusableVision(new Error('not asked')), env);
  const started = performance.now();
  try {
    for await (const _ of router.respond({ text: 'What colour is this?', signal: new AbortController().signal, image: { type: 'image/png', data: testPicture() } })) break;
  } finally {
    await router.disposeVision();
  }
  const where = role.backend === 'local' ? `${path.basename(role.model ?? '?')} in a llama-server of JARVIS's own` : `${role.openai.model} at ${role.openai.baseUrl}`;
  return `${where}: began answering about a test picture in ${Math.round(performance.now() - started)} ms`;
}

/** A 32×32 picture, red on the left and blue on the right: what `jarvis doctor` shows the vision model. */
function testPicture(): Uint8Array {
  return encodePng(32, 32, (x) => (x < 16 ? [220, 40, 40] : [40, 40, 220]));
}

/** A vision role that cannot work as configured: every photo question is told why. */
class UnusableVision implements Responder {
  readonly engine = 'none';
  constructor(private readonly error: unknown) {}
  async load(): Promise<ResponderInfo> {
    throw this.error;
  }
  async *respond(): AsyncIterable<string> {
    throw this.error;
  }
  async resetConversation(): Promise<void> {}
  async answerCutOff(): Promise<void> {}
  async retract(): Promise<void> {}
  async dispose(): Promise<void> {}
}

/** The chat settings a vision answer is made with: its own instructions, and no history (each photo stands alone). */
function visionSettings(llm: JarvisConfig['llm'], role: VisionRoleConfig): JarvisConfig['llm'] {
  return { ...llm, historyTurns: 0, ...(role.systemPrompt ? { systemPrompt: role.systemPrompt } : {}) };
}

export function visionResponder(llm: JarvisConfig['llm'], role: VisionRoleConfig, env: NodeJS.ProcessEnv = process.env): Responder {
  const settings = visionSettings(llm, role);
  if (role.backend === 'local') return new LocalVisionResponder(settings, role);
  const { baseUrl, model, apiKey, apiKeyEnv, timeoutMs, maxRetries } = role.openai;
  const server: ServerRole = { stage: 'vision', noun: 'the vision server', settings: 'llm.roles.vision.openai', keyEnv: apiKeyEnv };
  return new OpenAiResponder(settings, { baseUrl, model, apiKey: apiKeyFrom(apiKey, apiKeyEnv, env), keyEnv: apiKeyEnv, timeoutMs, maxRetries }, { role: server, name: `${model} at ${serverHost(baseUrl)}`, answersAs: 'vision' });
}

const LOCAL_SERVER: ServerRole = { stage: 'vision', noun: 'the vision model server JARVIS runs', settings: 'llm.roles.vision', keyEnv: 'OPENAI_API_KEY' };

/** Backend "local": a llama-server of our own with the model and its projector, started on the first photo. */
export class LocalVisionResponder implements Responder {
  readonly engine = 'llama-server';
  readonly #llm: JarvisConfig['llm'];
  readonly #server: LlamaServerProcess;
  readonly #name: string;
  #client: { baseUrl: string; responder: OpenAiResponder } | undefined;

  constructor(llm: JarvisConfig['llm'], role: VisionRoleConfig) {
    if (!role.model || !role.projector) {
      throw new JarvisError('vision-config', 'llm.roles.vision with backend "local" needs both "model" and "projector" (the mmproj GGUF)', 'Set llm.roles.vision.model and llm.roles.vision.projector, or use backend "openai" with a running vision server.');
    }
    this.#llm = llm;
    this.#server = new LlamaServerProcess({ model: role.model, projector: role.projector, contextSize: Math.min(llm.contextSize, VISION_CONTEXT_CAP), ...(llm.threads ? { threads: llm.threads } : {}), settings: 'llm.roles.vision' });
    this.#name = `${path.basename(role.model, '.gguf')} (llama-server on this machine)`;
  }

  /** The server's process, while it runs. */
  get workerPid(): number | undefined {
    return this.#server.pid;
  }

  /** Starts the server now rather than on the first photo. */
  async load(): Promise<ResponderInfo> {
    const { baseUrl } = await this.#server.ensure();
    return { summary: `${this.#name} at ${baseUrl}` };
  }

  async *respond(request: ResponseRequest): AsyncIterable<string> {
    let pieces = 0;
    try {
      for await (const piece of (await this.#clientFor(request)).respond(request)) {
        pieces++;
        yield piece;
      }
    } catch (error) {
      // The server went away since the last photo (killed, out of memory): started again for this one.
      const gone = pieces === 0 && !request.signal.aborted && error instanceof JarvisError && error.code === 'vision-remote-unreachable';
      if (!gone || !(await this.#server.hasExited(2000))) throw error;
      yield* (await this.#clientFor(request)).respond(request);
    }
  }

  async #clientFor(request: ResponseRequest): Promise<OpenAiResponder> {
    const server = await this.#server.ensure(request.signal);
    if (this.#client?.baseUrl !== server.baseUrl) {
      // Loading a photo's tokens on the CPU can take a while on a big model: a generous first-piece timeout.
      const backend = { baseUrl: server.baseUrl, model: LOCAL_MODEL_ALIAS, apiKey: server.apiKey, timeoutMs: 120_000, maxRetries: 0 };
      this.#client = { baseUrl: server.baseUrl, responder: new OpenAiResponder(this.#llm, backend, { role: LOCAL_SERVER, name: this.#name, answersAs: 'vision' }) };
    }
    return this.#client.responder;
  }

  async resetConversation(): Promise<void> {}
  async answerCutOff(): Promise<void> {}
  async retract(): Promise<void> {}

  async dispose(): Promise<void> {
    await this.#server.dispose();
  }
}
