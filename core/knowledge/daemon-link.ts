import fs from 'node:fs';
import path from 'node:path';
import { describeError } from '../../base/errors.ts';
import type { Logger } from '../../base/log.ts';
import type { JarvisConfig } from '../../config/schema.ts';
import type { Assistant } from '../pipeline/assistant.ts';
import type { Problem } from '../protocol/state.ts';
import type { Responder } from '../responder.ts';
import { WithToolsResponder } from '../mcp/with-tools.ts';
import { Embedder } from './embedder.ts';
import type { IdleGate } from './indexer.ts';
import type { Knowledge } from './knowledge.ts';
import { indexOwnerFile, KnowledgeDb, knowledgeDatabasePath, runningIndexer } from './knowledge-db.ts';
import { makePrivateFile } from '../../base/private-files.ts';
import { KnowledgeResponder } from './knowledge-responder.ts';
import { KnowledgeTools } from './knowledge-tools.ts';

/**
 * Local knowledge in the daemon: opened when there is something to read (knowledge.folders, or folders added with
 * `jarvis docs add`), put in front of the LLM (the passages with the question, and `searchDocuments`), indexing
 * held while a turn runs, and its progress shown on the HUD as a status line in the problem list.
 */

export const KNOWLEDGE_PROBLEM = { indexing: 'knowledge-indexing', model: 'knowledge-model' } as const;

/** Indexing waits while the assistant listens, thinks or speaks. */
export class AssistantIdleGate implements IdleGate {
  #assistant: Assistant | undefined;

  attach(assistant: Assistant): void {
    this.#assistant = assistant;
  }

  waitUntilIdle(signal: AbortSignal): Promise<void> {
    const assistant = this.#assistant;
    if (!assistant || !busy(assistant.state.phase)) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const onState = (state: { phase: string }) => {
        if (busy(state.phase)) return;
        done();
      };
      const done = () => {
        assistant.off('state', onState);
        signal.removeEventListener('abort', done);
        resolve();
      };
      assistant.on('state', onState);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}

function busy(phase: string): boolean {
  return phase === 'listening' || phase === 'thinking' || phase === 'speaking';
}

export interface DaemonKnowledge {
  readonly knowledge: Knowledge;
  readonly gate: AssistantIdleGate;
  dispose(): Promise<void>;
}

/** Whether any folder is configured or was added: without one, nothing is opened (no worker, no model). */
export function hasKnowledgeFolders(config: JarvisConfig): boolean {
  if (!config.knowledge.enabled) return false;
  if (config.knowledge.folders.length > 0) return true;
  const file = knowledgeDatabasePath(config.dataDir);
  if (!fs.existsSync(file)) return false;
  const db = KnowledgeDb.open(file);
  try {
    return db.folders().length > 0;
  } finally {
    db.close();
  }
}

/** Opens local knowledge for the daemon; a missing model or a broken index is a problem, not a failed start. */
export async function openDaemonKnowledge(config: JarvisConfig, log: Logger, problems: Problem[]): Promise<DaemonKnowledge | undefined> {
  try {
    if (!hasKnowledgeFolders(config)) return undefined;
  } catch (error) {
    problems.push({ id: KNOWLEDGE_PROBLEM.model, ...problemOf(error), blocking: false });
    return undefined;
  }
  const k = config.knowledge;
  if (!fs.existsSync(k.model)) {
    problems.push({
      id: KNOWLEDGE_PROBLEM.model,
      message: `the embedding model for your documents is missing (${path.basename(k.model)}), so questions about them cannot be answered`,
      fix: 'Run `jarvis models pull nomic-embed-text-v1.5-q8_0`, or point knowledge.model at an embedding GGUF.',
      blocking: false,
    });
    return undefined;
  }
  const embedder = new Embedder({ modelPath: k.model, gpu: k.gpu, documentPrefix: k.documentPrefix, queryPrefix: k.queryPrefix, niceness: k.niceness, threads: k.threads, queryThreads: k.queryThreads }, log);
  const gate = new AssistantIdleGate();
  try {
    // Loaded only here: the vector search is a native addon that commands without documents never need.
    const { Knowledge } = await import('./knowledge.ts');
    const knowledge = await Knowledge.open({ config: k, dataDir: config.dataDir, embedder, log, gate });
    const owner = indexOwnerFile(config.dataDir);
    makePrivateFile(owner);
    fs.writeFileSync(owner, String(process.pid));
    const counts = knowledge.db.counts();
    log.info({ files: counts.files, passages: counts.passages, folders: knowledge.folders().length }, 'local knowledge open');
    return {
      knowledge,
      gate,
      async dispose() {
        if (runningIndexer(config.dataDir) === process.pid) fs.rmSync(owner, { force: true });
        await knowledge.dispose();
        await embedder.dispose();
      },
    };
  } catch (error) {
    await embedder.dispose();
    problems.push({ id: KNOWLEDGE_PROBLEM.model, ...problemOf(error), blocking: false });
    return undefined;
  }
}

/** `llm` with the documents in front of it and `searchDocuments` among its functions. */
export function withKnowledge(llm: Responder, knowledge: Knowledge, config: JarvisConfig, log: Logger): Responder {
  const tools = new KnowledgeTools(knowledge, config.knowledge.answerPassages, config.skills.maxToolCallsPerTurn);
  return new KnowledgeResponder(new WithToolsResponder(llm, tools), knowledge, { always: config.knowledge.always, answerPassages: config.knowledge.answerPassages }, log);
}

/** Starts watching and indexing; progress goes to the HUD while files are pending. Returns the undo. */
export function connectKnowledge(daemonKnowledge: DaemonKnowledge, assistant: Assistant, log: Logger): () => void {
  const { knowledge, gate } = daemonKnowledge;
  gate.attach(assistant);
  let shownAt = Number.NEGATIVE_INFINITY;
  const onProgress = (progress: { pending: number; done: number }) => {
    if (progress.pending === 0) {
      shownAt = Number.NEGATIVE_INFINITY;
      assistant.clearProblem(KNOWLEDGE_PROBLEM.indexing);
      return;
    }
    // Once a second at most: every change of the line is logged.
    if (Date.now() - shownAt < 1000) return;
    shownAt = Date.now();
    const total = progress.pending + progress.done;
    assistant.reportProblem({
      id: KNOWLEDGE_PROBLEM.indexing,
      message: `Reading your documents: ${progress.done} of ${total} files`,
      fix: 'Nothing to do: questions about the documents read so far already work, and reading pauses while I answer.',
      blocking: false,
    });
  };
  knowledge.on('progress', onProgress);
  knowledge.watch().catch((error: unknown) => log.warn({ err: describeError(error) }, 'could not watch the knowledge folders'));
  return () => knowledge.off('progress', onProgress);
}

function problemOf(error: unknown): { message: string; fix: string } {
  const { message, fix } = describeError(error);
  return { message, fix: fix ?? 'See the log for details.' };
}

