import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { JarvisError } from '../../base/errors.ts';
import { printable, printableJson } from '../../base/terminal-text.ts';
import type { Logger } from '../../base/log.ts';
import type { JarvisConfig } from '../../config/schema.ts';
import { deleteKnowledgeFiles, indexOwnerFile, KnowledgeDb, knowledgeDatabasePath, runningIndexer } from '../knowledge/knowledge-db.ts';
import type { Knowledge } from '../knowledge/knowledge.ts';
import { setup } from './common.ts';

/**
 * `jarvis docs add|list|rm|reindex|forget`: the folders of documents JARVIS answers from. With JARVIS running, it
 * reads them in the background (the HUD shows how far); without, `add` and `reindex` read them here, with progress.
 */
export function registerDocs(program: Command): void {
  const docs = program.command('docs').description('your documents: folders JARVIS reads and answers questions from');

  docs
    .command('add')
    .description('read a folder of documents (text, Markdown, HTML, PDF, DOCX, EPUB) and keep it read as it changes')
    .argument('<folder>', 'the folder')
    .action(async (folder: string, _options: unknown, command: Command) => {
      const { config, log } = await setup(command);
      const { checkFolder } = await import('../knowledge/knowledge.ts');
      const resolved = checkFolder(folder);
      const owner = runningIndexer(config.dataDir);
      if (owner !== undefined) {
        withDb(config, (db) => db.addFolder(resolved, Date.now()));
        console.log(`Added ${printable(resolved)}. The running JARVIS (pid ${owner}) reads it in the background; the HUD shows how far, and \`jarvis docs list\` what is done.`);
        return;
      }
      await withKnowledge(config, log, async (knowledge) => {
        knowledge.addFolder(resolved);
        await readWithProgress(knowledge, () => knowledge.sync([resolved]));
        printFolder(knowledge, resolved);
      });
    });

  docs
    .command('list')
    .description('the folders, their documents, and the ones skipped with the reason')
    .option('--json', 'print as JSON')
    .action(async (options: { json?: boolean }, command: Command) => {
      const { config } = await setup(command);
      const configured = config.knowledge.folders.map((f) => path.resolve(f));
      withDb(config, (db) => {
        const folders = [...new Set([...configured, ...db.folders()])];
        const files = db.files();
        if (options.json) {
          console.log(printableJson({ folders: folders.map((f) => ({ path: f, configured: configured.includes(f) })), files, counts: db.counts() }, 2));
          return;
        }
        if (folders.length === 0) {
          console.log('No folders. Add one with `jarvis docs add ~/Documents/manuals`, or set knowledge.folders in the config.');
          return;
        }
        for (const folder of folders) {
          const inFolder = files.filter((f) => f.folder === folder);
          const indexed = inFolder.filter((f) => f.status === 'indexed');
          console.log(`${printable(folder)}${configured.includes(folder) ? ' (knowledge.folders)' : ''}: ${indexed.length} document(s), ${indexed.reduce((n, f) => n + f.passages, 0)} passages`);
          for (const file of indexed) console.log(`  ${printable(path.relative(folder, file.path))} (${file.passages} passage${file.passages === 1 ? '' : 's'})`);
          for (const file of inFolder.filter((f) => f.status === 'skipped')) console.log(`  skipped: ${printable(file.skipReason ?? file.path)}`);
        }
        if (runningIndexer(config.dataDir) === undefined) console.log('(JARVIS is not running: changes made meanwhile are read when it starts, or with `jarvis docs reindex`.)');
      });
    });

  docs
    .command('rm')
    .description('stop reading a folder added with `jarvis docs add`, and remove what was read from it')
    .argument('<folder>', 'the folder')
    .action(async (folder: string, _options: unknown, command: Command) => {
      const { config } = await setup(command);
      const resolved = path.resolve(folder);
      if (config.knowledge.folders.some((f) => path.resolve(f) === resolved)) {
        throw new JarvisError('knowledge-configured-folder', `${resolved} is in knowledge.folders in the config`, 'Remove it from knowledge.folders in your config file and restart JARVIS.');
      }
      withDb(config, (db) => {
        if (!db.folders().includes(resolved)) throw new JarvisError('knowledge-unknown-folder', `${resolved} is not one of the folders read`, 'See `jarvis docs list` for the folders.');
        const removed = db.removeFolder(resolved);
        db.dropUnusedEmbeddings();
        console.log(`Removed ${printable(resolved)} and ${removed} document(s) read from it.`);
      });
    });

  docs
    .command('reindex')
    .description('read every document again (after changing knowledge.passageWords, say); unchanged passages are not embedded again')
    .action(async (_options: unknown, command: Command) => {
      const { config, log } = await setup(command);
      if (runningIndexer(config.dataDir) !== undefined) {
        withDb(config, (db) => db.setMeta('reindex-requested', String(Date.now())));
        console.log('The running JARVIS reads every document again in the background; the HUD shows how far.');
        return;
      }
      await withKnowledge(config, log, async (knowledge) => {
        await readWithProgress(knowledge, () => knowledge.reindex());
        const counts = knowledge.db.counts();
        console.log(`Read ${counts.files} document(s): ${counts.passages} passages, ${counts.skipped} skipped.`);
      });
    });

  docs
    .command('forget')
    .description('delete the document index and everything in it (the documents themselves stay untouched)')
    .action(async (_options: unknown, command: Command) => {
      const { config } = await setup(command);
      const owner = runningIndexer(config.dataDir);
      if (owner !== undefined) {
        throw new JarvisError('knowledge-in-use', `the running JARVIS (pid ${owner}) has the document index open`, 'Stop JARVIS (Ctrl+C, or `systemctl --user stop jarvis`), run `jarvis docs forget` again, then start it.');
      }
      const deleted = deleteKnowledgeFiles(knowledgeDatabasePath(config.dataDir));
      fs.rmSync(indexOwnerFile(config.dataDir), { force: true });
      console.log(deleted.length ? `Deleted the document index (${deleted.map((f) => path.basename(f)).join(', ')}): folders, passages and vectors.` : 'There was no document index.');
      if (config.knowledge.folders.length) {
        console.log(`knowledge.folders in the config still names ${config.knowledge.folders.map(printable).join(', ')}: remove them there, or JARVIS reads them again at its next start.`);
      }
    });
}

function withDb<T>(config: JarvisConfig, body: (db: KnowledgeDb) => T): T {
  const db = KnowledgeDb.open(knowledgeDatabasePath(config.dataDir));
  try {
    return body(db);
  } finally {
    db.close();
  }
}

async function withKnowledge(config: JarvisConfig, log: Logger, body: (knowledge: Knowledge) => Promise<void>): Promise<void> {
  const k = config.knowledge;
  if (!fs.existsSync(k.model)) {
    throw new JarvisError('knowledge-model-missing', `the embedding model ${k.model} is not downloaded`, 'Run `jarvis models pull nomic-embed-text-v1.5-q8_0` (or point knowledge.model at an embedding GGUF), then try again.');
  }
  const [{ Embedder }, { Knowledge }] = await Promise.all([import('../knowledge/embedder.ts'), import('../knowledge/knowledge.ts')]);
  const embedder = new Embedder({ modelPath: k.model, gpu: k.gpu, documentPrefix: k.documentPrefix, queryPrefix: k.queryPrefix, niceness: k.niceness, threads: k.threads }, log);
  try {
    const knowledge = await Knowledge.open({ config: k, dataDir: config.dataDir, embedder, log });
    try {
      await body(knowledge);
    } finally {
      await knowledge.dispose();
    }
  } finally {
    await embedder.dispose();
  }
}

/** One line per file on stderr as it is read ("reading 3 of 12: boiler-manual.pdf"). */
async function readWithProgress(knowledge: Knowledge, work: () => Promise<void>): Promise<void> {
  const onProgress = (progress: { pending: number; done: number; current?: string }) => {
    if (progress.current) process.stderr.write(`reading ${progress.done + 1} of ${progress.done + progress.pending}: ${printable(path.basename(progress.current))}\n`);
  };
  knowledge.on('progress', onProgress);
  try {
    await work();
  } finally {
    knowledge.off('progress', onProgress);
  }
}

function printFolder(knowledge: Knowledge, folder: string): void {
  const files = knowledge.db.filesIn(folder);
  const indexed = files.filter((f) => f.status === 'indexed');
  console.log(`Added ${printable(folder)}: ${indexed.length} document(s), ${indexed.reduce((n, f) => n + f.passages, 0)} passages.`);
  for (const file of files.filter((f) => f.status === 'skipped')) console.log(`  skipped: ${printable(file.skipReason ?? file.path)}`);
}
