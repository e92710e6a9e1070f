import type { Clock } from '../../base/clock.ts';
import type { Note, SkillStore } from './store.ts';

/**
 * Long-term household notes ("the wifi password is on the fridge"): kept as the words that were said, found
 * again by the words they share with a question. Listing and deleting them is also open to the user on the
 * command line (`jarvis memory list|forget`).
 */

const STOPWORDS = new Set(
  ('a an the is are was were be been am i me my mine we us our you your it its this that these those there here ' +
    'of on in at to for from by with about as and or but not no do does did what where when who whom which why how ' +
    'remember forget tell told said say know note notes please jarvis thing things anything something everything ' +
    'some any all can could would should will shall has have had get got put kept keep go goes')
    .split(' '),
);

/** The words of `text` that carry meaning, lightly stemmed ("bins" ~ "bin", "passwords" ~ "password"). */
export function keywords(text: string): Set<string> {
  const out = new Set<string>();
  for (const word of text.toLowerCase().replace(/[^\p{L}\p{N} ]+/gu, ' ').split(/\s+/)) {
    if (!word || STOPWORDS.has(word)) continue;
    out.add(word.length > 3 && word.endsWith('s') && !word.endsWith('ss') ? word.slice(0, -1) : word);
  }
  return out;
}

/** How much of `query` a note covers, 0..1. */
export function relevance(query: Set<string>, note: string): number {
  if (query.size === 0) return 0;
  const words = keywords(note);
  let shared = 0;
  for (const word of query) if (words.has(word)) shared++;
  return shared / query.size;
}

export class HouseholdMemory {
  constructor(
    private readonly store: SkillStore,
    private readonly clock: Clock,
  ) {}

  list(): Note[] {
    return this.store.notes();
  }

  /** Stores `fact`, unless the same words are already there; returns the note and whether it is new. */
  remember(fact: string): { note: Note; added: boolean } {
    const same = this.store.notes().find((n) => n.text.toLowerCase() === fact.toLowerCase());
    if (same) return { note: same, added: false };
    return { note: this.store.addNote(fact, this.clock.now()), added: true };
  }

  /** Notes about `about`, best first: those that share at least half of its meaningful words. */
  find(about: string, minimum = 0.5): Note[] {
    const query = keywords(about);
    return this.store
      .notes()
      .map((note) => ({ note, score: relevance(query, note.text) }))
      .filter((n) => n.score >= minimum)
      .sort((a, b) => b.score - a.score || b.note.createdAt - a.note.createdAt)
      .map((n) => n.note);
  }

  /** Forgets the notes that match `about` best; returns them. */
  forget(about: string): Note[] {
    const query = keywords(about);
    const scored = this.store.notes().map((note) => ({ note, score: relevance(query, note.text) }));
    const best = Math.max(0, ...scored.map((s) => s.score));
    if (best < 0.5) return [];
    const gone = scored.filter((s) => s.score === best).map((s) => s.note);
    this.store.deleteNotes(gone.map((n) => n.id));
    return gone;
  }

  forgetById(ids: readonly number[]): number {
    return this.store.deleteNotes(ids);
  }

  forgetAll(): number {
    return this.store.deleteAllNotes();
  }
}
