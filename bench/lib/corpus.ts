import fs from 'node:fs';
import { JarvisError } from '../../base/errors.ts';

/** What the benchmark's generated people say, and what JARVIS says back in the TTS figures. */

export const WAKE_PHRASE = 'hey jarvis';
export const STOP_PHRASE = 'stop';

/**
 * Requests after the wake word that only the LLM can answer: the local skills (core/skills: time, date, timers,
 * notes, volume) answer theirs without it, and bench/local-intents.ts measures those.
 */
export const QUESTIONS = [
  'how tall is mount everest',
  'what is the capital of australia',
  'how do you boil an egg',
  'tell me a short joke',
  'why is the sky blue',
  'who wrote pride and prejudice',
  'how far away is the moon',
  'what should i cook for dinner',
  'how many legs does a spider have',
  'what is a good name for a cat',
  'how long does it take to walk a mile',
  'what is the biggest animal in the sea',
  'how do plants make their food',
  'what language do they speak in brazil',
  'can you explain what a black hole is',
  'who painted the mona lisa',
  'what is the best way to learn to swim',
  'how hot is the sun',
  'what rhymes with orange',
  'why do cats purr',
] as const;

/** Sounds one or two phonemes away from "hey jarvis": the false wakes that matter. */
export const NEAR_MISSES = [
  'hey travis',
  'hey charles',
  'hey marvin',
  'hey harvey',
  'hey davis',
  'hey mavis',
  'hey garvey',
  'hey jasper',
  'hey service',
  'hey carlos',
  'hey jarrod',
  'hey chavez',
] as const;

/** Ordinary talk in a home, none of it addressed to the assistant. */
export const HOUSEHOLD = [
  'Did you remember to feed the cat this morning?',
  'The bus was late again, so I walked the last part.',
  'Can you pass me the salt and the pepper, please?',
  'We are out of bread, I will get some on the way home.',
  'The football match starts at eight, do you want to watch it?',
  'I think the washing machine is making a strange noise.',
  'Grandma called, she is coming over on Sunday for lunch.',
  'Put your shoes by the door, the floor is still wet.',
  'Have you seen my keys? I left them on the table.',
  'The garden needs watering if it does not rain tonight.',
  'Let us paint the spare room a lighter colour.',
  'My meeting ran over, sorry I am late for dinner.',
  'The children have a school trip to the museum next week.',
  'Turn the music down a little, I am on the phone.',
  'I booked the dentist for Thursday afternoon.',
  'This soup needs a bit more salt, I think.',
  'Who left the milk out of the fridge all night?',
  'We should visit your brother before the summer is over.',
  'The new neighbours seem nice, they have two dogs.',
  'I am going to bed early tonight, I am exhausted.',
  'Could you help me carry the shopping in from the car?',
  'The recipe says to bake it for forty minutes.',
  'Remember that the bins go out on Tuesday night.',
  'I found a good film to watch, it starts at nine.',
  'The heater in the bathroom is not working again.',
  'Let me know when you are ready to leave.',
  'My sister sent photos from her holiday in Spain.',
  'We need to renew the car insurance this month.',
  'The baby finally fell asleep, so please keep quiet.',
  'Harvest time at the farm is always busy in September.',
  'I will make pancakes for breakfast on Saturday.',
  'Is there any coffee left, or should I make some more?',
  'The library books are due back on Friday.',
  'That was a lovely walk along the river today.',
  'Can you check whether the back door is locked?',
  'The plumber said he will come round tomorrow morning.',
  'Let us have pasta tonight, it is quick and easy.',
  'I left my umbrella on the train this morning.',
  'Your jacket is hanging in the hall cupboard.',
  'The cat knocked a glass off the kitchen counter.',
] as const;

/** Answers as JARVIS speaks them: one to three short sentences, in the length range its system prompt asks for. */
export const TTS_SENTENCES = [
  'It is a quarter past seven.',
  'Tomorrow will be cloudy, with a high of fourteen degrees.',
  'The kitchen lights are on.',
  'Your timer for ten minutes has started.',
  'Mount Everest is about eight thousand eight hundred and forty nine metres tall.',
  'I will remind you to call your mother at six this evening.',
  'You have two things today: a dentist appointment at ten and lunch with Sam at one.',
  'Playing some quiet piano music.',
  'Put the egg in boiling water for about seven minutes, then cool it in cold water.',
  'The capital of Australia is Canberra.',
  'The heating is off.',
  'The drive to the coast takes about an hour and a half with the usual traffic.',
  'Why did the scarecrow win an award? Because he was outstanding in his field.',
  'Today is Wednesday, the twenty fifth of November.',
  'There are about four hundred and fifty four grams in a pound.',
  'Yes, light rain is expected after three this afternoon, so take an umbrella.',
  'The living room lights are dimmed to thirty percent.',
  'The bakery opens at seven in the morning on weekdays and at eight on Saturdays.',
  'How about a vegetable curry? You have rice, onions and spinach, and it takes about thirty minutes.',
  'I added milk to your shopping list.',
] as const;

/** Licence texts every Debian system has (base-files): long, varied English prose with no wake word in it. */
const PROSE_FILES = ['GPL-3', 'Apache-2.0', 'MPL-2.0', 'GFDL-1.3', 'LGPL-2.1', 'GPL-2', 'Artistic', 'CC0-1.0'];
const PROSE_DIR = '/usr/share/common-licenses';

/** Sentences of ordinary prose, in a fixed order, cleaned for a speech synthesiser. */
export function proseSentences(): string[] {
  const texts = PROSE_FILES.map((name) => `${PROSE_DIR}/${name}`).filter((file) => fs.existsSync(file));
  if (texts.length === 0) {
    throw new JarvisError('bench-corpus', `no licence texts in ${PROSE_DIR} to read as non-wake speech`, 'Install Debian\'s base-files package (it ships /usr/share/common-licenses).');
  }
  const sentences: string[] = [];
  for (const file of texts) {
    const text = fs
      .readFileSync(file, 'utf8')
      .replace(/https?:\/\/\S+|<[^>]*>|[_*#"[\]{}|\\]/g, ' ')
      .replace(/\(([a-z0-9]{1,3})\)/gi, ' ')
      .replace(/\s+/g, ' ');
    for (const sentence of text.split(/(?<=[.!?;:])\s+/)) {
      const words = sentence.split(' ').filter(Boolean);
      const letters = sentence.replace(/[^a-z]/gi, '').length;
      if (words.length < 5 || words.length > 40 || letters < sentence.length * 0.7) continue;
      if (/jarvis/i.test(sentence)) continue;
      sentences.push(sentence.trim());
    }
  }
  return sentences;
}
