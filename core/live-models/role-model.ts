import fs from 'node:fs';
import path from 'node:path';
import { ModelFileError } from '../../base/errors.ts';
import type { Logger } from '../../base/log.ts';
import type { JarvisConfig } from '../../config/schema.ts';
import { formatLoadSummary } from '../llm/llama-responder.ts';
import { CODE_SYSTEM_PROMPT, codeServerResponder, RoleRouter } from '../llm/role-router.ts';
import type { Responder, ResponderInfo, ResponseRequest } from '../responder.ts';
import type { LiveModels } from './live-models.ts';
import type { ModelPool, PoolModel } from './pool.ts';

/**
 * The local model of a role (llm.roles.code with backend "local"): a second worker in the model pool, beside the
 * chat model. It is loaded on the first request the role gets (not at start), kept resident while the memory
 * budget allows, and, never being the active model, it is the first the pool unloads when memory runs short (a
 * load that does not fit, the GPU governor's unloadInactive(), the idle timer). The next request for the role
 * loads it again.
 */
export class PooledRoleResponder implements Responder {
  readonly engine = 'llama.cpp';
  readonly #pool: ModelPool;
  readonly #model: PoolModel;
  readonly #key: string;
  readonly #file: string;
  readonly #settings: string;

  /**
   * `model`: the pool entry (costBytes 0: the pool estimates it when it loads, on the device known by then);
   * `settings`: where the user sets its file, for the fix of a missing one ("llm.roles.code.model").
   */
  constructor(pool: ModelPool, model: PoolModel, settings: string) {
    this.#pool = pool;
    this.#model = model;
    this.#key = model.key;
    this.#file = model.path;
    this.#settings = settings;
  }

  /** How the HUD names it. */
  get name(): string {
    return `${path.basename(this.#file, '.gguf')} (this machine)`;
  }

  /** Its worker's process while it is resident. */
  get workerPid(): number | undefined {
    return this.#pool.residentResponder(this.#key)?.workerPid;
  }

  get resident(): boolean {
    return this.#pool.residentResponder(this.#key) !== undefined;
  }

  /** Loads it now (it is otherwise loaded by its first request). */
  async load(): Promise<ResponderInfo> {
    const responder = await this.#acquire();
    const info = responder.loadInfo;
    return { summary: info ? formatLoadSummary(info, this.#file) : this.name };
  }

  async *respond(request: ResponseRequest): AsyncIterable<string> {
    const responder = await this.#acquire();
    try {
      yield* responder.respond(request);
    } finally {
      // A long answer must not count as idle time.
      this.#pool.touch(this.#key);
    }
  }

  async resetConversation(): Promise<void> {
    await this.#pool.residentResponder(this.#key)?.resetConversation();
  }

  async answerCutOff(heard: string): Promise<void> {
    await this.#pool.residentResponder(this.#key)?.answerCutOff(heard);
  }

  async retract(): Promise<void> {
    await this.#pool.residentResponder(this.#key)?.retract();
  }

  /** Unloads it; the pool itself is the model manager's. */
  async dispose(): Promise<void> {
    await this.#pool.unload(this.#key).catch(() => undefined);
  }

  async #acquire() {
    if (!fs.existsSync(this.#file)) {
      throw new ModelFileError('model-missing', this.#file, `the code model file ${this.#file} is not there`, `Download it (jarvis models pull), or set ${this.#settings} to where it is.`);
    }
    return this.#pool.acquire(this.#model);
  }
}

/**
 * `chat` with the router in front that sends each request to its role's model (core/llm/role-router.ts), when any
 * role is configured: the code role's server, or its GGUF as a second worker in the model manager's pool. No role
 * configured: `chat` itself. The role models are disposed through `own` (the daemon's disposal stack). `log` hears of
 * failed routing calls (llm.roles.route "rule-then-model").
 */
export function withRoles(llm: JarvisConfig['llm'], chat: Responder, models: LiveModels, own: (responder: Responder) => void, log?: Logger, env: NodeJS.ProcessEnv = process.env): Responder {
  const code = llm.roles.code;
  if (!code) return chat;
  const coder = code.backend === 'local' ? models.roleModel('code', code.model!, code.systemPrompt ?? CODE_SYSTEM_PROMPT) : codeServerResponder(llm, code, env);
  own(coder);
  return new RoleRouter({ chat, code: coder }, { route: llm.roles.route, routeTimeoutMs: llm.roles.routeTimeoutMs, ...(log ? { log } : {}) });
}
