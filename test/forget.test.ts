import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { systemClock } from '../base/clock.ts';
import { HouseholdMemory } from '../core/skills/household-memory.ts';
import { SkillStore, skillsDatabasePath } from '../core/skills/store.ts';
import { runJarvis } from './fixtures/cli.ts';
import { startTestHud } from './fixtures/hud-server.ts';
import { ScriptedResponder } from './fixtures/scripted-responder.ts';

/** `jarvis forget --all`: the household notes on disk, and the conversation held by the JARVIS running here. */

class RememberingResponder extends ScriptedResponder {
  resets = 0;
  override async resetConversation(): Promise<void> {
    this.resets++;
  }
}

function notesIn(dataDir: string): number {
  const store = SkillStore.open(skillsDatabasePath({ dataDir }));
  try {
    return new HouseholdMemory(store, systemClock).list().length;
  } finally {
    store.close();
  }
}

test('`jarvis forget --all` deletes the notes and makes the running JARVIS forget the conversation; without one it says there is none', async () => {
  const llm = new RememberingResponder(() => 'Noted.');
  const hud = await startTestHud({ responder: llm });
  const configFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-forget-')), 'config.json');
  try {
    const { dataDir } = hud.config;
    const store = SkillStore.open(skillsDatabasePath({ dataDir }));
    const memory = new HouseholdMemory(store, systemClock);
    memory.remember('the spare key is under the blue flower pot');
    memory.remember('the bins go out on Thursday night');
    store.close();
    await hud.assistant.ask('what did we talk about');
    fs.writeFileSync(configFile, JSON.stringify({ dataDir, server: { port: Number(new URL(hud.url).port) } }));

    const forget = runJarvis(['-c', configFile, 'forget', '--all']);
    assert.equal(await forget.exit, 0, forget.stderr.join('\n'));
    assert.match(forget.stdout.join('\n'), /Forgot 2 household note\(s\)\.\nThe running JARVIS forgot the conversation\./);
    assert.equal(notesIn(dataDir), 0);
    assert.equal(llm.resets, 1);
  } finally {
    await hud.close();
  }
  const alone = runJarvis(['-c', configFile, 'forget', '--all']);
  assert.equal(await alone.exit, 0, alone.stderr.join('\n'));
  assert.match(alone.stdout.join('\n'), /No JARVIS is running here/);
  const refused = runJarvis(['-c', configFile, 'forget']);
  assert.equal(await refused.exit, 2);
});
