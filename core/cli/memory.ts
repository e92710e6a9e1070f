import type { Command } from 'commander';
import { JarvisError } from '../../base/errors.ts';
import { systemClock } from '../../base/clock.ts';
import { printable, printableJson } from '../../base/terminal-text.ts';
import { HouseholdMemory } from '../skills/household-memory.ts';
import { skillsDatabasePath, SkillStore } from '../skills/store.ts';
import { commandConfig } from './common.ts';

/**
 * `jarvis memory list|forget`: the household notes JARVIS was asked to remember ("remember that the wifi password
 * is on the fridge"), for the user to see and delete. They are text in the skills database, never audio.
 */
export function registerMemory(program: Command): void {
  const memory = program.command('memory').description('the household notes JARVIS remembers: list or forget them');

  memory
    .command('list')
    .description('list every note with its number and when it was stored')
    .option('--json', 'print the notes as JSON')
    .action((options: { json?: boolean }, command: Command) => {
      withMemory(command, (notes) => {
        const all = notes.list();
        if (options.json) {
          console.log(printableJson(all.map((n) => ({ id: n.id, text: n.text, createdAt: new Date(n.createdAt).toISOString() })), 2));
          return;
        }
        if (all.length === 0) {
          console.log('No notes. Say "remember that …" to add one.');
          return;
        }
        // A note may have come from a paired phone: its text is printed, never obeyed.
        for (const note of all) console.log(`#${String(note.id).padEnd(4)} ${new Date(note.createdAt).toLocaleString()}  ${printable(note.text)}`);
      });
    });

  memory
    .command('forget')
    .description('delete notes by number (see `jarvis memory list`), by subject, or all of them')
    .argument('[ids...]', 'note numbers')
    .option('--about <words>', 'the notes that best match these words')
    .option('--all', 'every note')
    .action((ids: string[], options: { about?: string; all?: boolean }, command: Command) => {
      withMemory(command, (notes) => {
        if ([ids.length > 0, options.about !== undefined, options.all === true].filter(Boolean).length !== 1) {
          throw new JarvisError('usage', 'say which notes to forget: note numbers, --about <words> or --all', 'Run `jarvis memory list` to see the numbers.');
        }
        if (options.all) {
          console.log(`Forgot ${plural(notes.forgetAll(), 'note')}.`);
          return;
        }
        if (options.about !== undefined) {
          const gone = notes.forget(options.about);
          if (gone.length === 0) throw new JarvisError('no-such-note', `no note about "${options.about}"`, 'Run `jarvis memory list` to see what is stored.');
          for (const note of gone) console.log(`Forgot #${note.id}: ${printable(note.text)}`);
          return;
        }
        const numbers = ids.map((id) => Number(id.replace(/^#/, '')));
        const bad = ids.filter((_, i) => !Number.isInteger(numbers[i]) || numbers[i]! <= 0);
        if (bad.length > 0) throw new JarvisError('usage', `not a note number: ${bad.join(', ')}`, 'Use the numbers `jarvis memory list` shows, e.g. `jarvis memory forget 3`.');
        const known = new Set(notes.list().map((n) => n.id));
        const missing = numbers.filter((n) => !known.has(n));
        const removed = notes.forgetById(numbers.filter((n) => known.has(n)));
        if (removed > 0) console.log(`Forgot ${plural(removed, 'note')}.`);
        if (missing.length > 0) {
          throw new JarvisError('no-such-note', `no note #${missing.join(', #')}`, 'Run `jarvis memory list` to see the numbers.');
        }
      });
    });
}

export function withMemory(command: Command, body: (memory: HouseholdMemory) => void): void {
  const config = commandConfig(command);
  const store = SkillStore.open(skillsDatabasePath(config));
  try {
    body(new HouseholdMemory(store, systemClock));
  } finally {
    store.close();
  }
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
