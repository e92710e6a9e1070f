import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { JarvisConfig } from '../../config/schema.ts';
import { abortError, JarvisError, LlmWorkerCrashedError, ModelFileError } from '../../base/errors.ts';
import { backoffMs } from '../../base/backoff.ts';
import { formatBytes } from '../../base/format.ts';
import type { RunRecorder } from '../events.ts';
import { type Responder, type ResponderInfo, type ResponseRequest, type ToolDefinition, type ToolHost } from '../responder.ts';
import { AsyncQueue } from '../../base/async-queue.ts';
import { checkGgufModelFile } from '../../models/gguf-file.ts';
import { cutOffAnswer, deviceName, isFromWorker, WORKER_FLAG, type ConversationTurn, type FromWorker, type GpuFallback, type LlmDevice, type ToWorker, type TurnStats, type WireError, type WorkerLoadInfo, type WorkerState } from './protocol.ts';

export type LlmConfig = JarvisConfig['llm'];

export interface LlamaResponderOptions {
  /** llama.cpp CPU threads; by default the worker uses the machine's math cores on the CPU. */
  readonly threads?: number;
  /** How long an aborted generation may take to confirm before the worker is killed and restarted. */
  readonly abortGraceMs?: number;
  /** A model load that takes longer than this is treated as hung. */
  readonly loadTimeoutMs?: number;
  /** How long dispose() waits for a clean worker exit before SIGKILL. */
  readonly disposeTimeoutMs?: number;
  /** Consecutive crashes after which automatic restarts stop until the next respond() or load(). */
  readonly maxConsecutiveCrashes?: number;
  /** VRAM llama.cpp must leave free when it puts layers on the GPU. */
  readonly vramPaddingBytes?: number;
  /** Function definitions every question will offer (the skills), evaluated with the system prompt at load. */
  readonly preloadTools?: readonly ToolDefinition[];
  /** The worker's module; tests substitute one that wraps the real worker to make it fail as a GPU driver would. */
  readonly workerModule?: string;
}

export interface LlamaResponderInfo extends ResponderInfo {
  readonly info: WorkerLoadInfo;
  /** fork() to "loaded", as the daemon waited for it. */
  readonly startMs: number;
}

export type LlamaResponderEvent =
  | { readonly type: 'worker-exit'; readonly pid: number; readonly detail: string; readonly during: 'loading' | 'idle' | 'answering' }
  | { readonly type: 'restart-scheduled'; readonly delayMs: number; readonly attempt: number }
  | { readonly type: 'restarted'; readonly summary: string; readonly ms: number; readonly attempt: number; readonly pid: number }
  | { readonly type: 'restart-failed'; readonly error: Error; readonly attempt: number }
  | { readonly type: 'log'; readonly level: 'debug' | 'info' | 'warn' | 'error'; readonly message: string };

interface PendingTurn {
  readonly question: string;
  readonly pieces: AsyncQueue<string>;
  abortRequested: boolean;
  /** Set when the answer was cut off before the worker confirmed its end: what the history keeps instead. */
  cutOff?: string;
  /** Set when the question was withdrawn before the worker confirmed its end: the history does not keep it. */
  retracted?: boolean;
  /** Function calls wait for this (a request started before its speaker finished). */
  readonly confirmed: Promise<void> | undefined;
  readonly run: RunRecorder | undefined;
  readonly signal: AbortSignal;
  /** Functions the model may call for this question; each call runs here, in the daemon. */
  readonly tools: ToolHost | undefined;
}

interface PendingRequest {
  readonly resolve: (message: FromWorker) => void;
  readonly reject: (error: unknown) => void;
}

/** One worker process and what is waiting on it. */
interface WorkerProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly turns: Map<number, PendingTurn>;
  readonly requests: Map<number, PendingRequest>;
  /**
   * Recent stderr lines and llama.cpp warnings/errors (which come over IPC) with their arrival time: a native
   * abort prints or logs its reason just before dying.
   */
  readonly recentOutput: { line: string; at: number }[];
  readonly exited: Promise<void>;
  loaded: boolean;
  /** The llama.cpp backend the worker chose, once it said so. */
  device: LlmDevice | undefined;
  /** What to do about its crash, where its last output said what went wrong. */
  crashFix: string | undefined;
  /** Set when the parent ends the worker on purpose, so its exit is not a crash. */
  stopping: boolean;
  hasExited: boolean;
}

// Enough for llama.cpp's error line above the backtrace it prints before aborting.
const RECENT_OUTPUT_LINES = 80;
const MAX_RESTART_DELAY_MS = 30_000;

/**
 * The LLM stage on node-llama-cpp, with llama.cpp in a child process (worker.ts) so a native abort cannot take
 * the daemon down. The worker keeps one chat session, so the system prompt's KV cache survives between turns;
 * when it dies, the answer in flight fails with LlmWorkerCrashedError and a new worker loads the model again
 * after `restartDelayMs`, with the conversation so far.
 */
export class LlamaResponder implements Responder {
  readonly engine = 'llama.cpp';
  readonly #config: LlmConfig;
  readonly #abortGraceMs: number;
  readonly #loadTimeoutMs: number;
  readonly #disposeTimeoutMs: number;
  readonly #maxConsecutiveCrashes: number;
  readonly #threads: number | undefined;
  readonly #vramPaddingBytes: number | undefined;
  readonly #listeners = new Set<(event: LlamaResponderEvent) => void>();
  #worker: WorkerProcess | undefined;
  /** The start or restart in progress; respond() waits on it. */
  #starting: Promise<WorkerProcess> | undefined;
  #restartTimer: { timer: NodeJS.Timeout; cancel: () => void } | undefined;
  #consecutiveCrashes = 0;
  #history: ConversationTurn[] = [];
  #nextId = 1;
  /** The id of the last question asked, for answerCutOff() and retract(), and of the last one kept in #history. */
  #lastQuestionId: number | undefined;
  #lastRememberedId: number | undefined;
  #disposed = false;
  #info: WorkerLoadInfo | undefined;
  #lastTurn: TurnStats | undefined;
  /** Set once the GPU backend crashed a loading worker under llm.gpu "auto": from then on the CPU is used. */
  #gpuFallback: GpuFallback | undefined;
  readonly #workerModule: string | undefined;
  #preloadTools: readonly ToolDefinition[] | undefined;

  constructor(config: LlmConfig, options: LlamaResponderOptions = {}) {
    this.#config = config;
    this.#threads = options.threads;
    this.#vramPaddingBytes = options.vramPaddingBytes;
    this.#workerModule = options.workerModule;
    this.#preloadTools = options.preloadTools;
    this.#abortGraceMs = options.abortGraceMs ?? 2000;
    this.#loadTimeoutMs = options.loadTimeoutMs ?? 300_000;
    this.#disposeTimeoutMs = options.disposeTimeoutMs ?? 3000;
    this.#maxConsecutiveCrashes = options.maxConsecutiveCrashes ?? 5;
  }

  /** The worker's process id while one runs; for logs, and for tests that kill it. */
  get workerPid(): number | undefined {
    return this.#worker && !this.#worker.hasExited ? this.#worker.pid : undefined;
  }

  get loadInfo(): WorkerLoadInfo | undefined {
    return this.#info;
  }

  /** Figures of the last answer that ended normally or by abort. */
  get lastTurn(): TurnStats | undefined {
    return this.#lastTurn;
  }

  /** Restarts, worker exits and llama.cpp warnings, for the daemon's log. */
  subscribe(listener: (event: LlamaResponderEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async load(): Promise<LlamaResponderInfo> {
    this.#ensureNotDisposed();
    if (this.#worker?.loaded && !this.#worker.hasExited) return this.#describe(this.#info!, 0);
    const started = performance.now();
    await this.#ensureStarted();
    return this.#describe(this.#info!, Math.round(performance.now() - started));
  }

  async *respond(request: ResponseRequest): AsyncGenerator<string> {
    const { text, signal } = request;
    if (signal.aborted) return;
    // A stop said while the worker (re)starts must end the turn now, not after the model has loaded.
    const worker = await untilAborted(this.#ensureStarted(), signal);
    if (!worker) return;
    if (worker.hasExited) throw new LlmWorkerCrashedError('it exited before the question reached it');
    const id = this.#nextId++;
    this.#lastQuestionId = id;
    const turn: PendingTurn = {
      question: text,
      pieces: new AsyncQueue<string>(),
      abortRequested: false,
      run: request.run,
      signal,
      tools: request.tools,
      confirmed: request.confirmed,
    };
    worker.turns.set(id, turn);
    let graceTimer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      turn.abortRequested = true;
      this.#send(worker, { type: 'abort', id });
      // A generation stuck in native code never confirms; then the worker is replaced rather than waited on.
      graceTimer = setTimeout(() => {
        if (turn.pieces.closed) return;
        this.#emit({ type: 'log', level: 'warn', message: `LLM worker did not stop within ${this.#abortGraceMs} ms of an abort; killing it` });
        worker.child.kill('SIGKILL');
      }, this.#abortGraceMs);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    let finished = false;
    try {
      const tools = request.tools ? { tools: { definitions: request.tools.definitions, maxCalls: request.tools.maxCallsPerTurn } } : {};
      this.#send(worker, { type: 'generate', id, text, ...tools });
      for await (const piece of turn.pieces) yield piece;
      finished = true;
    } finally {
      signal.removeEventListener('abort', onAbort);
      clearTimeout(graceTimer);
      // The consumer stopped reading early: the worker must not go on generating for nobody. The turn stays
      // registered until the worker confirms, so its partial answer is still remembered for a restart.
      if (!finished && !turn.pieces.closed) {
        if (!turn.abortRequested) this.#send(worker, { type: 'abort', id });
        turn.abortRequested = true;
      }
    }
  }

  async resetConversation(): Promise<void> {
    this.#ensureNotDisposed();
    this.#history = [];
    if (!this.#worker && !this.#starting) return;
    const worker = await this.#ensureStarted();
    await this.#request(worker, (id) => ({ type: 'reset', id }));
  }

  async retract(): Promise<void> {
    this.#ensureNotDisposed();
    const worker = this.#worker;
    const id = this.#lastQuestionId;
    if (!worker || id === undefined || worker.hasExited) return;
    const pending = worker.turns.get(id);
    if (pending) pending.retracted = true;
    else if (this.#lastRememberedId === id) this.#history = this.#history.slice(0, -1);
    await this.#request(worker, (requestId) => ({ type: 'retract', id: requestId }));
  }

  async answerCutOff(heard: string): Promise<void> {
    this.#ensureNotDisposed();
    const worker = this.#worker;
    const id = this.#lastQuestionId;
    if (!worker || id === undefined || worker.hasExited) return;
    const answer = cutOffAnswer(heard);
    const pending = worker.turns.get(id);
    // Still ending (the abort is on its way): the history takes the cut-off answer when the worker confirms.
    if (pending) pending.cutOff = answer;
    else if (this.#history.length > 0) this.#history = [...this.#history.slice(0, -1), { question: this.#history.at(-1)!.question, answer }];
    await this.#request(worker, (requestId) => ({ type: 'cut-off', id: requestId, answer }));
  }

  /**
   * The function definitions to keep evaluated with the system prompt from now on (the skills' and the MCP
   * servers', after a server's tool list changed): a running worker evaluates them now, between questions, and a
   * restarted one at its load, so the next question with these tools evaluates only itself.
   */
  async preloadTools(tools: readonly ToolDefinition[]): Promise<void> {
    this.#ensureNotDisposed();
    this.#preloadTools = tools;
    const worker = this.#worker;
    if (!worker || worker.hasExited) return;
    await this.#request(worker, (id) => ({ type: 'preload', id, tools }));
  }

  /**
   * The worker's pick of `choices` for `prompt`, under their grammar, outside the conversation (the history is
   * unchanged). An abort tells the worker to stop and rejects at once; a worker that dies rejects too.
   */
  async classify(prompt: string, choices: readonly string[], signal: AbortSignal): Promise<string> {
    signal.throwIfAborted();
    const worker = await untilAborted(this.#ensureStarted(), signal);
    if (!worker) throw abortError(signal.reason);
    const reply = await this.#request(worker, (id) => ({ type: 'classify', id, prompt, choices }), signal);
    if (reply.type !== 'classified') throw new Error(`unexpected reply ${reply.type}`);
    if (reply.choice === undefined) {
      const error = reply.error;
      throw new JarvisError(error?.code ?? 'llm-classify-failed', `the language model could not pick one of ${choices.join(', ')}: ${error?.message ?? 'no answer'}`, error?.fix ?? 'Nothing to do: the rule decides.');
    }
    return reply.choice;
  }

  /** What the worker's chat session holds now. */
  async inspect(): Promise<WorkerState> {
    const worker = await this.#ensureStarted();
    const reply = await this.#request(worker, (id) => ({ type: 'inspect', id }));
    if (reply.type !== 'state') throw new Error(`unexpected reply ${reply.type}`);
    return reply.state;
  }

  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#restartTimer?.cancel();
    this.#restartTimer = undefined;
    const starting = this.#starting;
    const worker = this.#worker;
    if (worker) await this.#stopWorker(worker);
    await starting?.catch(() => undefined);
    if (this.#worker && this.#worker !== worker) await this.#stopWorker(this.#worker);
    this.#worker = undefined;
    this.#listeners.clear();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }

  #ensureNotDisposed(): void {
    if (this.#disposed) throw new JarvisError('llm-disposed', 'the LLM responder was disposed', 'Create a new LlamaResponder.');
  }

  /** The loaded worker, starting one when none runs and none is on its way. */
  #ensureStarted(): Promise<WorkerProcess> {
    this.#ensureNotDisposed();
    const worker = this.#worker;
    if (worker?.loaded && !worker.hasExited) return Promise.resolve(worker);
    if (this.#starting) return this.#starting;
    // A restart that gave up, or the first use without load(): try again now, for this caller.
    return this.#track(this.#startWorker());
  }

  #track(starting: Promise<WorkerProcess>): Promise<WorkerProcess> {
    this.#starting = starting;
    const clear = () => {
      if (this.#starting === starting) this.#starting = undefined;
    };
    starting.then(clear, clear);
    // Background restarts may have no awaiting caller; their failure is reported through events.
    starting.catch(() => undefined);
    return starting;
  }

  async #startWorker(): Promise<WorkerProcess> {
    // Cheap checks in the daemon first: a missing or half-downloaded file must not cost a worker start.
    await checkGgufModelFile(this.#config.model);
    this.#ensureNotDisposed();
    const worker = this.#spawn();
    this.#worker = worker;
    try {
      const reply = await this.#awaitLoad(worker);
      this.#ensureNotDisposed();
      worker.loaded = true;
      this.#info = this.#gpuFallback ? { ...reply, gpuFallback: this.#gpuFallback } : reply;
      return worker;
    } catch (error) {
      await this.#stopWorker(worker, { kill: true });
      if (this.#worker === worker) this.#worker = undefined;
      if (this.#shouldFallBackToCpu(worker, error)) {
        // The generic crash advice (lower the layers, it restarts) does not fit a backend that cannot run at all.
        const fix = worker.crashFix ?? `Update the GPU driver, or set llm.gpu to "cpu".`;
        this.#gpuFallback = { from: worker.device!, detail: error.detail, fix };
        this.#emit({
          type: 'log',
          level: 'warn',
          message: `llama.cpp's ${deviceName(worker.device!)} backend crashed while loading the model (${error.detail}); answering on the CPU instead. ${fix}`,
        });
        return this.#startWorker();
      }
      throw error;
    }
  }

  /**
   * llm.gpu "auto" promises an answer on whatever works: a GPU backend that kills the worker while loading (a
   * driver older than the prebuilt CUDA build, a card it has no kernels for) is given up for the CPU, once. An
   * explicit "cuda" or "vulkan" is the user's choice and fails with the reason instead.
   */
  #shouldFallBackToCpu(worker: WorkerProcess, error: unknown): error is LlmWorkerCrashedError {
    return (
      error instanceof LlmWorkerCrashedError &&
      !this.#disposed &&
      this.#config.gpu === 'auto' &&
      this.#gpuFallback === undefined &&
      worker.device !== undefined &&
      worker.device !== 'cpu'
    );
  }

  #spawn(): WorkerProcess {
    const entry = workerEntry(this.#workerModule);
    const child = fork(entry.file, [WORKER_FLAG], {
      execArgv: entry.execArgv,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'json',
    });
    if (child.pid === undefined) throw new JarvisError('llm-worker-spawn', 'could not start the LLM worker process', 'Check that Node.js can start child processes.');
    let markExited!: () => void;
    const worker: WorkerProcess = {
      child,
      pid: child.pid,
      turns: new Map(),
      requests: new Map(),
      recentOutput: [],
      exited: new Promise<void>((resolve) => (markExited = resolve)),
      loaded: false,
      device: undefined,
      crashFix: undefined,
      stopping: false,
      hasExited: false,
    };
    liveWorkers.add(child);
    ensureExitHook();
    child.on('message', (message) => {
      if (isFromWorker(message)) this.#onMessage(worker, message);
    });
    createInterface({ input: child.stdout! }).on('line', (line) => this.#emit({ type: 'log', level: 'info', message: line }));
    createInterface({ input: child.stderr! }).on('line', (line) => {
      rememberOutput(worker, line);
      this.#emit({ type: 'log', level: 'warn', message: line });
    });
    child.on('error', (error) => this.#emit({ type: 'log', level: 'error', message: `LLM worker process error: ${error.message}` }));
    child.on('exit', (code, signal) => {
      liveWorkers.delete(child);
      // stderr may still hold the crash reason; 'close' comes once it is drained, unless a grandchild keeps the
      // pipe open, hence the cap.
      const exitedAt = performance.now();
      let settled = false;
      const settle = () => {
        if (settled) return;
        settled = true;
        clearTimeout(cap);
        worker.hasExited = true;
        this.#onExit(worker, code, signal, exitedAt);
        markExited();
      };
      const cap = setTimeout(settle, 200);
      child.once('close', settle);
    });
    return worker;
  }

  #awaitLoad(worker: WorkerProcess): Promise<WorkerLoadInfo> {
    return new Promise<WorkerLoadInfo>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new JarvisError(
            'llm-load-timeout',
            `the LLM worker did not finish loading ${this.#config.model} within ${this.#loadTimeoutMs / 1000} s`,
            'Check the disk and the GPU driver; a smaller model or fewer llm.gpuLayers load faster.',
          ),
        );
      }, this.#loadTimeoutMs);
      worker.requests.set(0, {
        resolve: (message) => {
          clearTimeout(timer);
          if (message.type === 'loaded') resolve(message.info);
          else if (message.type === 'load-failed') reject(this.#loadError(message.error));
          else reject(new Error(`unexpected reply ${message.type} to load`));
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.#send(worker, {
        type: 'load',
        options: {
          modelPath: this.#config.model,
          gpu: this.#gpuFallback ? 'cpu' : this.#config.gpu,
          gpuLayers: this.#config.gpuLayers,
          contextSize: this.#config.contextSize,
          maxAnswerTokens: this.#config.maxAnswerTokens,
          temperature: this.#config.temperature,
          historyTurns: this.#config.historyTurns,
          systemPrompt: this.#config.systemPrompt,
          history: this.#history,
          ...(this.#threads !== undefined ? { threads: this.#threads } : {}),
          ...(this.#vramPaddingBytes !== undefined ? { vramPaddingBytes: this.#vramPaddingBytes } : {}),
          ...(this.#preloadTools ? { preloadTools: this.#preloadTools } : {}),
        },
      });
    });
  }

  #loadError(error: WireError): Error {
    if (error.code === 'model-load-failed' || error.code === 'model-corrupt' || error.code === 'model-wrong-format' || error.code === 'model-missing') {
      return new ModelFileError(error.code, this.#config.model, error.message, error.fix ?? '');
    }
    if (error.code && error.fix) return new JarvisError(error.code, error.message, error.fix);
    return new JarvisError(
      'llm-load-failed',
      `the LLM worker could not load ${this.#config.model}: ${error.message}`,
      'Check llm.model, llm.gpu and llm.gpuLayers; the log above has llama.cpp\'s own messages.',
    );
  }

  #onMessage(worker: WorkerProcess, message: FromWorker): void {
    switch (message.type) {
      case 'backend':
        worker.device = message.device;
        return;
      case 'loaded':
      case 'load-failed':
        this.#settle(worker, 0, message);
        return;
      case 'piece':
        worker.turns.get(message.id)?.pieces.push(message.text);
        return;
      case 'tool-call':
        void this.#runTool(worker, message);
        return;
      case 'done': {
        const turn = worker.turns.get(message.id);
        worker.turns.delete(message.id);
        this.#lastTurn = message.stats;
        this.#consecutiveCrashes = 0;
        if (turn && !turn.retracted && this.#remember(turn.question, turn.cutOff ?? message.stats.answer)) this.#lastRememberedId = message.id;
        turn?.pieces.end();
        return;
      }
      case 'error': {
        const turn = worker.turns.get(message.id);
        worker.turns.delete(message.id);
        turn?.pieces.fail(
          new JarvisError(
            message.error.code ?? 'llm-generation-failed',
            `the language model failed while answering: ${message.error.message}`,
            message.error.fix ?? 'Try again; if it repeats, reset the conversation or lower llm.contextSize.',
          ),
        );
        return;
      }
      case 'reset-done':
      case 'classified':
      case 'preload-done':
      case 'cut-off-done':
      case 'retract-done':
      case 'state':
        this.#settle(worker, message.id, message);
        return;
      case 'log':
        if (message.level === 'warn' || message.level === 'error') rememberOutput(worker, message.message);
        this.#emit({ type: 'log', level: message.level, message: message.message });
        return;
      case 'disposed':
        // The worker freed its native memory; closing the channel lets it exit.
        if (worker.child.connected) worker.child.disconnect();
        return;
    }
  }

  /**
   * Runs a function the model called and sends the result back to the worker. What the skill says is streamed to
   * the user at once, ahead of whatever the model adds, so an answer that used a tool always says what it did.
   */
  async #runTool(worker: WorkerProcess, call: Extract<FromWorker, { type: 'tool-call' }>): Promise<void> {
    const turn = worker.turns.get(call.id);
    let result: unknown;
    if (!turn?.tools || turn.abortRequested) {
      result = { error: turn?.tools ? 'the answer was stopped' : 'no functions for this question' };
    } else {
      try {
        // A request started early acts only once it is confirmed; withdrawn, its signal aborts the call.
        await turn.confirmed;
        turn.signal.throwIfAborted();
        const outcome = await turn.tools.call(call.name, call.params, { signal: turn.signal, ...(turn.run ? { run: turn.run } : {}) });
        if (outcome.said) turn.pieces.push(`${outcome.said} `);
        result = outcome.result;
      } catch (error) {
        result = { error: error instanceof Error ? error.message : String(error) };
      }
    }
    this.#send(worker, { type: 'tool-result', callId: call.callId, result });
  }

  #settle(worker: WorkerProcess, id: number, message: FromWorker): void {
    const request = worker.requests.get(id);
    worker.requests.delete(id);
    request?.resolve(message);
  }

  /** Keeps the exchange for a restarted worker; false when no history is kept. */
  #remember(question: string, answer: string): boolean {
    if (this.#config.historyTurns === 0) return false;
    this.#history = [...this.#history, { question, answer }].slice(-this.#config.historyTurns);
    return true;
  }

  /**
   * Sends `build(id)` and waits for the worker's reply to that id. With `signal`, an abort tells the worker to stop
   * that request and rejects at once (its late reply is then ignored).
   */
  #request(worker: WorkerProcess, build: (id: number) => ToWorker, signal?: AbortSignal): Promise<FromWorker> {
    const id = this.#nextId++;
    return new Promise<FromWorker>((resolve, reject) => {
      const onAbort = () => {
        this.#send(worker, { type: 'abort', id });
        reject(abortError(signal!.reason));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const settled = () => signal?.removeEventListener('abort', onAbort);
      worker.requests.set(id, {
        resolve: (reply) => {
          settled();
          resolve(reply);
        },
        reject: (error) => {
          settled();
          reject(error);
        },
      });
      this.#send(worker, build(id));
    });
  }

  #send(worker: WorkerProcess, message: ToWorker): void {
    // A worker that is gone cannot be told anything; its exit handler settles whatever waited on it.
    if (worker.hasExited || !worker.child.connected) return;
    worker.child.send(message, (error) => {
      if (error) this.#emit({ type: 'log', level: 'warn', message: `could not send ${message.type} to the LLM worker: ${error.message}` });
    });
  }

  #onExit(worker: WorkerProcess, code: number | null, signal: NodeJS.Signals | null, exitedAt: number): void {
    if (this.#worker === worker) this.#worker = undefined;
    const expected = worker.stopping || this.#disposed;
    const recent = worker.recentOutput.filter((entry) => entry.at > exitedAt - 2000).map((entry) => entry.line);
    const detail = describeExit(code, signal, recent);
    const fix = crashFix(recent);
    worker.crashFix = fix;
    const during = !worker.loaded ? 'loading' : worker.turns.size > 0 ? 'answering' : 'idle';
    for (const turn of worker.turns.values()) {
      if (turn.abortRequested) turn.pieces.end();
      else if (expected) turn.pieces.fail(abortError(undefined, 'the LLM was disposed while answering'));
      else turn.pieces.fail(new LlmWorkerCrashedError(detail, fix));
    }
    worker.turns.clear();
    for (const request of worker.requests.values()) request.reject(new LlmWorkerCrashedError(detail, fix));
    worker.requests.clear();
    if (expected) return;
    this.#emit({ type: 'worker-exit', pid: worker.pid, detail, during });
    // A crash during a (re)start is the start's failure; its caller or the restart loop handles it.
    if (worker.loaded) this.#scheduleRestart();
  }

  #scheduleRestart(): void {
    this.#consecutiveCrashes++;
    const attempt = this.#consecutiveCrashes;
    if (attempt > this.#maxConsecutiveCrashes) {
      this.#emit({
        type: 'restart-failed',
        attempt,
        error: new JarvisError(
          'llm-crash-loop',
          `the LLM worker crashed ${attempt} times in a row; automatic restarts stopped`,
          'Lower llm.gpuLayers or llm.contextSize, or pick a smaller model; the next question tries again.',
        ),
      });
      return;
    }
    const delayMs = backoffMs(this.#config.restartDelayMs, attempt - 1, MAX_RESTART_DELAY_MS);
    this.#emit({ type: 'restart-scheduled', delayMs, attempt });
    const restart = new Promise<WorkerProcess>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#restartTimer = undefined;
        const started = performance.now();
        this.#startWorker().then(
          (worker) => {
            const ms = Math.round(performance.now() - started);
            this.#emit({ type: 'restarted', summary: this.#describe(this.#info!, ms).summary, ms, attempt, pid: worker.pid });
            resolve(worker);
          },
          (error: unknown) => {
            const failure = error instanceof Error ? error : new Error(String(error));
            if (!this.#disposed) this.#emit({ type: 'restart-failed', error: failure, attempt });
            reject(failure);
            // A crash while reloading is retried with a longer delay; a load error waits for the next question.
            if (!this.#disposed && error instanceof LlmWorkerCrashedError) queueMicrotask(() => this.#scheduleRestart());
          },
        );
      }, delayMs);
      this.#restartTimer = {
        timer,
        cancel: () => {
          clearTimeout(timer);
          reject(abortError(undefined, 'restart cancelled'));
        },
      };
    });
    this.#track(restart);
  }

  async #stopWorker(worker: WorkerProcess, { kill = false } = {}): Promise<void> {
    worker.stopping = true;
    if (worker.hasExited) return;
    if (kill) {
      worker.child.kill('SIGKILL');
    } else {
      this.#send(worker, { type: 'dispose' });
    }
    const timer = setTimeout(() => worker.child.kill('SIGKILL'), this.#disposeTimeoutMs);
    await worker.exited;
    clearTimeout(timer);
  }

  #describe(info: WorkerLoadInfo, startMs: number): LlamaResponderInfo {
    const warning = loadWarning(info);
    return { summary: formatLoadSummary(info, this.#config.model), info, startMs, ...(warning ? { warning } : {}) };
  }

  #emit(event: LlamaResponderEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch {
        // A failing log listener must not break the LLM stage.
      }
    }
  }
}

/** "CPU, 0/2 layers on GPU, 0 MB VRAM, model x.gguf loaded in 45 ms" */
export function formatLoadSummary(info: WorkerLoadInfo, modelPath: string): string {
  const device = info.device === 'cpu' ? 'CPU' : `${deviceName(info.device)}${info.gpuNames.length > 0 ? ` (${info.gpuNames.join(', ')})` : ''}`;
  const fallback = info.gpuFallback ? ` (${deviceName(info.gpuFallback.from)} crashed while loading, so the CPU answers)` : '';
  return (
    `${device}${fallback}, ${info.layersOnGpu}/${info.totalLayers} layers on GPU, ${formatBytes(info.vramUsedBytes, { binary: true, smallest: 'MB' })} VRAM, ` +
    `model ${path.basename(modelPath)} loaded in ${info.loadMs} ms`
  );
}

/** The HUD's and doctor's warning for a load that is not what llm.gpu asked for. */
export function loadWarning(info: WorkerLoadInfo | undefined): ResponderInfo['warning'] {
  if (info?.gpuFallback) {
    const from = deviceName(info.gpuFallback.from);
    return {
      message: `the language model runs on the CPU because llama.cpp's ${from} backend crashed while loading it (${info.gpuFallback.detail})`,
      fix: `${info.gpuFallback.fix} Until then the CPU answers, more slowly, and ${from} is tried again at every start.`,
    };
  }
  if (info && !info.functionsFit) {
    return {
      message: `the skills' function definitions do not fit the language model's ${info.contextSize}-token context, so it cannot call skills (timers, notes, volume) for requests the local patterns miss`,
      fix: 'Raise llm.contextSize (4096 leaves room for them with a typical model).',
    };
  }
  return undefined;
}

/** A native abort prints its reason and then a backtrace; the reason is what a user can act on. */
const ERROR_LINE = /\berror\b|assert|abort|out of memory|failed/i;
const BACKTRACE_FRAME = /^\S+\.so[.\d]*\(|^node\[|^node\(|\[0x[0-9a-f]+\]$/;

function rememberOutput(worker: WorkerProcess, line: string): void {
  worker.recentOutput.push({ line, at: performance.now() });
  if (worker.recentOutput.length > RECENT_OUTPUT_LINES) worker.recentOutput.shift();
}

function describeExit(code: number | null, signal: NodeJS.Signals | null, output: readonly string[]): string {
  const how = signal ? `killed by ${signal}` : `exit code ${code}`;
  const lines = output.map((line) => line.replace(/^\[node-llama-cpp\]\s*/, '').trim()).filter((line) => line !== '');
  const errors = lines.filter((line) => ERROR_LINE.test(line) && !BACKTRACE_FRAME.test(line));
  // "CUDA error: <what>" says more than the "file.cu:108: CUDA error" printed beside it.
  const reason = errors.filter((line) => /\berror\s*:\s*\S/i.test(line)).at(-1) ?? errors.at(-1) ?? lines.at(-1);
  return reason ? `${how}; ${reason.slice(0, 300)}` : how;
}

/** What to do about a crash, where its output says more than "it crashed". */
function crashFix(output: readonly string[]): string | undefined {
  const text = output.join('\n');
  if (/CUDA error/i.test(text) && /unsupported toolchain|no kernel image|PTX/i.test(text)) {
    return (
      'The NVIDIA driver is older than the CUDA toolkit that built llama.cpp\'s prebuilt CUDA backend, or has no ' +
      'kernels for this card: update the NVIDIA driver (nvidia-smi shows its version), or set llm.gpu to "cpu".'
    );
  }
  if (/CUDA error: out of memory|cudaMalloc failed|failed to allocate CUDA/i.test(text)) {
    return 'The GPU ran out of memory: close other GPU programs, lower llm.gpuLayers or llm.contextSize, or pick a smaller model.';
  }
  if (/CUDA error/i.test(text)) return 'llama.cpp\'s CUDA backend failed: update the NVIDIA driver, or set llm.gpu to "cpu".';
  return undefined;
}

/** `promise`'s value, or undefined as soon as `signal` aborts. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise<T | undefined>((resolve, reject) => {
    const onAbort = () => resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/**
 * From the compiled build (bin/build.js) the worker is an entry point beside this chunk; from the sources it starts
 * through worker-from-sources.js, which brings tsx in for the worker's own files. A `module` (a test's stand-in
 * worker) runs through tsx. tsx is resolved from this module's location, so the daemon can start from anywhere.
 */
function workerEntry(module: string | undefined): { file: string; execArgv: string[] } {
  if (module) return { file: module, execArgv: ['--import', import.meta.resolve('tsx')] };
  const fromSources = import.meta.url.endsWith('.ts');
  return { file: fileURLToPath(new URL(fromSources ? './worker-from-sources.js' : './worker.js', import.meta.url)), execArgv: [] };
}

/** Workers alive in this process; killed synchronously if the daemon exits without disposing them. */
const liveWorkers = new Set<ChildProcess>();
let exitHookInstalled = false;

function ensureExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of liveWorkers) child.kill('SIGKILL');
  });
}
