import { performance } from 'node:perf_hooks';
import {
  getLlama,
  getLlamaGpuTypes,
  InsufficientMemoryError,
  isChatModelResponseFunctionCall,
  LlamaChatSession,
  LlamaLogLevel,
  type ChatHistoryItem,
  type Llama,
  type LlamaContext,
  type LlamaGrammar,
  type LlamaModel,
} from 'node-llama-cpp';
import { JarvisError, ModelFileError } from '../../base/errors.ts';
import {
  deviceName,
  isToWorker,
  toWireError,
  WORKER_FLAG,
  type FromWorker,
  type GenerateTools,
  type GpuChoice,
  type LlmDevice,
  type StopReason,
  type ToWorker,
  type TurnStats,
  type WorkerLoadInfo,
  type WorkerLoadOptions,
  type WorkerState,
} from './protocol.ts';
import { choiceGrammar, CLASSIFY_MAX_TOKENS, matchChoice } from './classify.ts';
import { ToolBridge } from './tool-bridge.ts';

/**
 * The LLM worker: the child process that holds llama.cpp. It is started by LlamaResponder with fork() and talks
 * the protocol in protocol.ts. Anything native that aborts (CUDA out of memory, a driver fault) ends this
 * process only; the daemon restarts it.
 *
 * One chat session on one context sequence lives for the whole process, so the system prompt's KV cache is
 * evaluated once and every later prompt only evaluates what changed after the common prefix.
 */
export class LlmWorker {
  readonly #send: (message: FromWorker) => void;
  #llama: Llama | undefined;
  #model: LlamaModel | undefined;
  #context: LlamaContext | undefined;
  #session: LlamaChatSession | undefined;
  #options: WorkerLoadOptions | undefined;
  /** Requests run one at a time in arrival order: a chat session cannot answer two prompts at once. */
  #queue: Promise<void> = Promise.resolve();
  /** Generations not yet finished, queued ones included, so an abort can reach them before they start. */
  readonly #generations = new Map<number, AbortController>();
  #busy = false;
  /** False once the function definitions proved too long for the context: questions then go without them. */
  #functionsFit = true;
  /** classify()'s grammars, by their text: the same few words every time. */
  readonly #grammars = new Map<string, LlamaGrammar>();
  /** Function calls of the generation in progress go to the daemon through here. */
  readonly #tools: ToolBridge;

  constructor(send: (message: FromWorker) => void) {
    this.#send = send;
    this.#tools = new ToolBridge(send);
  }

  handle(message: ToWorker): void {
    switch (message.type) {
      case 'load':
        this.#enqueue(() => this.#load(message.options));
        return;
      case 'generate': {
        const controller = new AbortController();
        this.#generations.set(message.id, controller);
        this.#enqueue(() => this.#generate(message.id, message.text, controller.signal, message.tools));
        return;
      }
      case 'abort':
        // Overtakes the queue: the generation in progress stops at its next token.
        this.#generations.get(message.id)?.abort();
        return;
      case 'reset':
        this.#enqueue(async () => {
          this.#session?.resetChatHistory();
          this.#send({ type: 'reset-done', id: message.id });
        });
        return;
      case 'preload':
        this.#enqueue(async () => {
          try {
            if (this.#session && this.#options) {
              this.#options = { ...this.#options, preloadTools: message.tools };
              this.#functionsFit = true;
              await this.#preload(this.#session, this.#options);
            }
          } finally {
            // Answered either way: the daemon must not wait on a preload that failed (the next question pays instead).
            this.#send({ type: 'preload-done', id: message.id });
          }
        });
        return;
      case 'cut-off':
        // Queued behind the generation it is about, which an abort has already stopped.
        this.#enqueue(async () => {
          this.#replaceLastAnswer(message.answer);
          this.#send({ type: 'cut-off-done', id: message.id });
        });
        return;
      case 'retract':
        this.#enqueue(async () => {
          this.#dropLastExchange();
          this.#send({ type: 'retract-done', id: message.id });
        });
        return;
      case 'inspect':
        this.#send({ type: 'state', id: message.id, state: this.#state() });
        return;
      case 'classify': {
        const controller = new AbortController();
        this.#generations.set(message.id, controller);
        this.#enqueue(() => this.#classify(message.id, message.prompt, message.choices, controller.signal));
        return;
      }
      case 'tool-result':
        // Overtakes the queue: the generation in progress is waiting for it.
        this.#tools.resolve(message.callId, message.result);
        return;
      case 'dispose':
        for (const controller of this.#generations.values()) controller.abort();
        this.#enqueue(async () => {
          await this.dispose();
          this.#send({ type: 'disposed' });
        });
        return;
    }
  }

  async dispose(): Promise<void> {
    this.#session?.dispose({ disposeSequence: true });
    await this.#context?.dispose();
    await this.#model?.dispose();
    await this.#llama?.dispose();
    this.#grammars.clear();
    this.#session = undefined;
    this.#context = undefined;
    this.#model = undefined;
    this.#llama = undefined;
  }

  #enqueue(task: () => Promise<void>): void {
    this.#queue = this.#queue.then(task).catch((error: unknown) => {
      this.#send({ type: 'log', level: 'error', message: `worker task failed: ${String(error)}` });
    });
  }

  async #load(options: WorkerLoadOptions): Promise<void> {
    const started = performance.now();
    try {
      this.#options = options;
      const llama = await this.#getLlama(options.gpu, options.threads, options.vramPaddingBytes);
      this.#llama = llama;
      this.#send({ type: 'backend', device: deviceOf(llama) });
      const vramBefore = (await llama.getVramState()).used;
      const model = await this.#loadModel(llama, options);
      this.#model = model;
      // node-llama-cpp's CPU default is max(cores, 4) threads; on a 2-core box that oversubscribes the cores
      // and every token waits on spinning threads, so on the CPU use the math cores and no more.
      const threads = options.threads ?? (llama.gpu === false ? llama.cpuMathCores : undefined);
      const context = await this.#createContext(model, options, threads);
      this.#context = context;
      const session = new LlamaChatSession({
        contextSequence: context.getSequence(),
        systemPrompt: options.systemPrompt,
        autoDisposeSequence: true,
      });
      this.#session = session;
      if (options.history.length > 0) this.#restoreHistory(options);
      // Evaluate the system prompt (and any restored turns) now, so the first question only pays for itself.
      const preloadStarted = performance.now();
      await this.#preload(session, options);
      const preloadMs = Math.round(performance.now() - preloadStarted);
      const vramAfter = await llama.getVramState();
      const info: WorkerLoadInfo = {
        device: deviceOf(llama),
        gpuNames: llama.gpu === false ? [] : await llama.getGpuDeviceNames(),
        layersOnGpu: model.gpuLayers,
        totalLayers: model.fileInsights.totalLayers,
        vramUsedBytes: Math.max(0, vramAfter.used - vramBefore),
        vramTotalBytes: vramAfter.total,
        vramBeforeBytes: vramBefore,
        vramAfterBytes: vramAfter.used,
        loadMs: Math.round(performance.now() - started),
        preloadMs,
        chatWrapper: session.chatWrapper.wrapperName,
        functionsFit: this.#functionsFit,
        contextSize: context.contextSize,
        threads: context.idealThreads,
        systemPromptTokens: model.tokenize(options.systemPrompt).length,
      };
      this.#send({ type: 'loaded', info });
    } catch (error) {
      await this.dispose().catch(() => undefined);
      this.#send({ type: 'load-failed', error: toWireError(error) });
    }
  }

  async #getLlama(choice: GpuChoice, threads: number | undefined, vramPaddingBytes: number | undefined): Promise<Llama> {
    const common = {
      // Never download and compile llama.cpp from inside a voice daemon: prebuilt binaries or a clear error.
      build: 'never',
      logLevel: LlamaLogLevel.warn,
      logger: (level: LlamaLogLevel, message: string) => this.#log(level, message),
      ...(threads !== undefined ? { maxThreads: threads } : {}),
      ...(vramPaddingBytes !== undefined ? { vramPadding: vramPaddingBytes } : {}),
    } as const;
    if (choice === 'cpu') return getLlama({ ...common, gpu: false });
    if (choice === 'auto') return getLlama({ ...common, gpu: 'auto' });
    let llama: Llama | undefined;
    let cause: unknown;
    try {
      llama = await getLlama({ ...common, gpu: choice });
    } catch (error) {
      cause = error;
    }
    if (llama && llama.gpu === choice) return llama;
    await llama?.dispose();
    const usable = (await getLlamaGpuTypes('supported')).map((t) => (t === false ? 'cpu' : t));
    const name = deviceName(choice);
    throw new JarvisError(
      'llm-gpu-unavailable',
      `llm.gpu is "${choice}" but llama.cpp cannot use ${name} on this machine` +
        (cause instanceof Error ? ` (${cause.message})` : '') +
        `; usable here: ${usable.join(', ')}`,
      choice === 'cuda'
        ? 'Install the NVIDIA driver (a CUDA 12 capable one for Pascal cards such as the GTX 1080 Ti), or set llm.gpu to "auto" or "cpu".'
        : 'Install the Vulkan loader and your GPU\'s Vulkan driver (Debian: libvulkan1 mesa-vulkan-drivers), or set llm.gpu to "auto" or "cpu".',
      { cause },
    );
  }

  async #loadModel(llama: Llama, options: WorkerLoadOptions): Promise<LlamaModel> {
    try {
      return await llama.loadModel({
        modelPath: options.modelPath,
        gpuLayers: llama.supportsGpuOffloading ? options.gpuLayers : 0,
      });
    } catch (error) {
      if (error instanceof InsufficientMemoryError) throw outOfMemory(error, 'the model');
      throw new ModelFileError(
        'model-load-failed',
        options.modelPath,
        `llama.cpp could not load ${options.modelPath}: ${(error as Error).message}`,
        'Check that the file is a complete GGUF chat model that this llama.cpp supports; download it again or pick another model.',
        { cause: error },
      );
    }
  }

  async #createContext(model: LlamaModel, options: WorkerLoadOptions, threads: number | undefined): Promise<LlamaContext> {
    try {
      return await model.createContext({ contextSize: options.contextSize, sequences: 1, ...(threads !== undefined ? { threads } : {}) });
    } catch (error) {
      if (error instanceof InsufficientMemoryError) throw outOfMemory(error, `a ${options.contextSize}-token context`);
      throw error;
    }
  }

  #restoreHistory(options: WorkerLoadOptions): void {
    const session = this.#session!;
    const [system] = session.getChatHistory();
    const turns = options.historyTurns === 0 ? [] : options.history.slice(-options.historyTurns);
    session.setChatHistory([
      ...(system ? [system] : []),
      ...turns.flatMap((t): ChatHistoryItem[] => [
        { type: 'user', text: t.question },
        { type: 'model', response: [t.answer] },
      ]),
    ]);
  }

  async #generate(id: number, text: string, signal: AbortSignal, toolset: GenerateTools | undefined): Promise<void> {
    const session = this.#session;
    const options = this.#options;
    const started = performance.now();
    try {
      if (!session || !options) throw new Error('generate before a successful load');
      const previousTurnsInContext = this.#trimHistory(session, options.historyTurns);
      if (signal.aborted) {
        this.#send({ type: 'done', id, stats: emptyStats('abort', previousTurnsInContext, session, started) });
        return;
      }
      this.#busy = true;
      const meterBefore = session.sequence.tokenMeter.getState();
      let pieces = 0;
      let firstPieceMs: number | null = null;
      let stopReason: StopReason;
      let answer: string;
      const tools = this.#functionsFit && toolset?.definitions.length ? this.#tools.forGeneration(id, signal, toolset) : undefined;
      try {
        const ask = (withTools: boolean) =>
          session.promptWithMeta(text, {
            maxTokens: options.maxAnswerTokens,
            temperature: options.temperature,
            signal: tools && withTools ? AbortSignal.any([signal, tools.stopSignal]) : signal,
            ...(tools && withTools ? { functions: tools.functions } : {}),
            // Keeps what was said so far as the answer in the history, so the next turn follows on coherently.
            stopOnAbortSignal: true,
            onTextChunk: (chunk) => {
              if (chunk === '') return;
              firstPieceMs ??= performance.now() - started;
              pieces++;
              this.#send({ type: 'piece', id, text: chunk });
            },
          });
        const result = await this.#fitToContext(session, ask, options.contextSize, tools !== undefined, 'the system prompt and the question do not fit');
        stopReason = tools?.stopSignal.aborted && !signal.aborted ? 'toolLoop' : result.stopReason;
        answer = result.responseText;
      } catch (error) {
        // An abort before the first token throws instead of returning a partial answer.
        if (!signal.aborted && !tools?.stopSignal.aborted) throw error;
        stopReason = signal.aborted ? 'abort' : 'toolLoop';
        answer = '';
      }
      const used = session.sequence.tokenMeter.diff(meterBefore);
      const stats: TurnStats = {
        stopReason,
        answer,
        pieces,
        outputTokens: used.usedOutputTokens,
        inputTokensEvaluated: used.usedInputTokens,
        contextTokens: session.sequence.contextTokens.length,
        previousTurnsInContext,
        firstPieceMs: firstPieceMs === null ? null : Math.round(firstPieceMs * 10) / 10,
        ms: Math.round((performance.now() - started) * 10) / 10,
        ...(tools ? { toolCalls: tools.calls() } : {}),
      };
      this.#send({ type: 'done', id, stats });
    } catch (error) {
      this.#send({ type: 'error', id, error: toWireError(error) });
    } finally {
      this.#busy = false;
      this.#generations.delete(id);
    }
  }

  /**
   * A side question (the role router's routing call) on the chat session itself, so the system prompt and the
   * conversation already in the KV cache are reused and only the question is evaluated; its chat history is put
   * back as it was afterwards, so the question never becomes part of the conversation (the next prompt evaluates
   * from where the two differ). The answer is generated under the grammar of `choices`, greedily, in a few tokens.
   */
  async #classify(id: number, prompt: string, choices: readonly string[], signal: AbortSignal): Promise<void> {
    const session = this.#session;
    const llama = this.#llama;
    const history = session?.getChatHistory();
    try {
      if (!session || !llama || !history) throw new Error('classify before a successful load');
      signal.throwIfAborted();
      this.#busy = true;
      const text = choiceGrammar(choices);
      const grammar = this.#grammars.get(text) ?? (await llama.createGrammar({ grammar: text }));
      this.#grammars.set(text, grammar);
      const answer = await session.prompt(prompt, { grammar, maxTokens: CLASSIFY_MAX_TOKENS, temperature: 0, signal });
      const choice = matchChoice(answer, choices);
      if (choice === undefined) throw new JarvisError('llm-classify-unclear', `the model answered "${answer.slice(0, 40)}", which is none of ${choices.join(', ')}`, 'Nothing to do: the rule decides.');
      this.#send({ type: 'classified', id, choice });
    } catch (error) {
      this.#send({ type: 'classified', id, error: toWireError(error) });
    } finally {
      if (session && history) session.setChatHistory(history);
      this.#busy = false;
      this.#generations.delete(id);
    }
  }

  /**
   * Runs `attempt` until it fits the context. On overflow the oldest half of the earlier exchanges goes first
   * (down to none), then the function definitions: an answer without function calling beats no answer. What
   * still does not fit (`tooLong`: the system prompt, with the question) is the user's to fix. Without this, one
   * overflow would fail every later turn until a restart.
   */
  async #fitToContext<T>(session: LlamaChatSession, attempt: (withTools: boolean) => Promise<T>, contextSize: number, toolsOffered: boolean, tooLong: string): Promise<T> {
    let withTools = toolsOffered;
    for (;;) {
      try {
        return await attempt(withTools);
      } catch (error) {
        if (!isContextOverflow(error)) throw error;
        // Earlier exchanges only: the question being asked joins the history when it is answered.
        const pairs = session.getChatHistory().filter((item) => item.type === 'user').length;
        if (pairs > 0) {
          const keep = Math.floor(pairs / 2);
          this.#send({ type: 'log', level: 'warn', message: `the conversation no longer fits the context; keeping the last ${keep} of ${pairs} exchanges` });
          this.#trimHistory(session, keep);
        } else if (withTools) {
          this.#functionsDoNotFit(contextSize);
          withTools = false;
        } else {
          throw new JarvisError(
            'llm-context-too-small',
            `${tooLong} a ${contextSize}-token context`,
            `Raise llm.contextSize (now ${contextSize}), or shorten llm.systemPrompt.`,
            { cause: error },
          );
        }
      }
    }
  }

  /** The system prompt, restored turns and function definitions into the KV cache, as much as fits. */
  #preload(session: LlamaChatSession, options: WorkerLoadOptions): Promise<void> {
    const tools = options.preloadTools;
    return this.#fitToContext(
      session,
      (withTools) => session.preloadPrompt('', withTools && tools ? { functions: this.#tools.definitionsOnly(tools) } : {}),
      options.contextSize,
      Boolean(tools?.length),
      'the system prompt does not fit',
    );
  }

  #functionsDoNotFit(contextSize: number): void {
    this.#functionsFit = false;
    this.#send({
      type: 'log',
      level: 'warn',
      message: `the skills' function definitions do not fit the ${contextSize}-token context: the LLM answers without calling skills; raise llm.contextSize to let it`,
    });
  }

  /**
   * Keeps the system prompt and the last `historyTurns` question/answer pairs. Cutting whole pairs from the
   * front leaves the system prompt as the shared prefix, so its KV cache is reused. Returns the pairs kept.
   */
  #trimHistory(session: LlamaChatSession, historyTurns: number): number {
    const history = session.getChatHistory();
    const firstTurn = history.findIndex((item) => item.type !== 'system');
    if (firstTurn < 0) return 0;
    const userIndexes = history.flatMap((item, index) => (item.type === 'user' ? [index] : []));
    if (userIndexes.length <= historyTurns) return userIndexes.length;
    const cut = historyTurns === 0 ? history.length : userIndexes[userIndexes.length - historyTurns]!;
    session.setChatHistory([...history.slice(0, firstTurn), ...history.slice(cut)]);
    return historyTurns;
  }

  #state(): WorkerState {
    const history = this.#session?.getChatHistory() ?? [];
    const questions = history.flatMap((item) => (item.type === 'user' ? [item.text] : []));
    const lastAnswer = history.findLast((item) => item.type === 'model');
    const lastFunctionCalls = lastAnswer?.type === 'model' ? lastAnswer.response.filter(isChatModelResponseFunctionCall).map(({ name, params, result }) => ({ name, params, result })) : [];
    return {
      turns: questions.length,
      questions,
      contextTokens: this.#session?.sequence.contextTokens.length ?? 0,
      busy: this.#busy,
      lastFunctionCalls,
      lastAnswer: lastAnswer?.type === 'model' ? lastAnswer.response.filter((item) => typeof item === 'string').join('') : undefined,
    };
  }

  /** The last question and its answer leave the history (a question withdrawn before it was confirmed). */
  #dropLastExchange(): void {
    const session = this.#session;
    if (!session) return;
    const history = session.getChatHistory();
    const question = history.findLastIndex((item) => item.type === 'user');
    if (question < 0 || history.slice(question + 1).some((item) => item.type !== 'model')) return;
    session.setChatHistory(history.slice(0, question));
  }

  /** The last answer's text becomes `answer`; the function calls it made stay (they were done). */
  #replaceLastAnswer(answer: string): void {
    const session = this.#session;
    if (!session) return;
    const history = session.getChatHistory();
    const index = history.findLastIndex((item) => item.type === 'model');
    const last = history[index];
    if (index < 0 || last?.type !== 'model' || index !== history.length - 1) return;
    const calls = last.response.filter((item) => typeof item !== 'string');
    session.setChatHistory([...history.slice(0, index), { ...last, response: [...calls, answer] }]);
  }

  #log(level: LlamaLogLevel, message: string): void {
    const mapped =
      level === LlamaLogLevel.fatal || level === LlamaLogLevel.error
        ? 'error'
        : level === LlamaLogLevel.warn
          ? 'warn'
          : level === LlamaLogLevel.debug
            ? 'debug'
            : 'info';
    this.#send({ type: 'log', level: mapped, message: message.trimEnd() });
  }
}

function deviceOf(llama: Llama): LlmDevice {
  return llama.gpu === false ? 'cpu' : llama.gpu;
}

function outOfMemory(error: InsufficientMemoryError, what: string): JarvisError {
  return new JarvisError(
    'llm-out-of-memory',
    `not enough memory for ${what}: ${error.message}`,
    'Lower llm.gpuLayers or llm.contextSize, or pick a smaller (more quantised) model.',
    { cause: error },
  );
}

function emptyStats(stopReason: StopReason, previousTurnsInContext: number, session: LlamaChatSession, started: number): TurnStats {
  return {
    stopReason,
    answer: '',
    pieces: 0,
    outputTokens: 0,
    inputTokensEvaluated: 0,
    contextTokens: session.sequence.contextTokens.length,
    previousTurnsInContext,
    firstPieceMs: null,
    ms: Math.round((performance.now() - started) * 10) / 10,
  };
}

// Forked by LlamaResponder: serve it over IPC. Imported any other way, the module only exports.
if (process.send && process.argv.includes(WORKER_FLAG)) {
  const send = (message: FromWorker) => {
    if (process.connected) process.send!(message);
  };
  const worker = new LlmWorker(send);
  process.on('message', (message) => {
    if (isToWorker(message)) worker.handle(message);
  });
  // The daemon is gone (even by SIGKILL): nobody is left to answer, and the OS frees RAM and VRAM on exit.
  process.on('disconnect', () => process.exit(0));
}

/** node-llama-cpp's error when even its context shift cannot make the chat history fit. */
function isContextOverflow(error: unknown): boolean {
  return error instanceof Error && /context shift strategy did not return a history that fits|context size/i.test(error.message);
}
