import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { serveHudFile } from '../core/server/static-files.ts';

/**
 * The HUD's file server on a real HTTP server over a temp folder laid out like hud/dist, with symbolic links in
 * it: one that leaves the folder (to a file, and to a folder) must not be followed; one that stays inside may be.
 */

const top = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-static-'));
const dist = path.join(top, 'dist');
const outside = path.join(top, 'outside');
let server: http.Server;
let base: string;

function serve(dir: string): Promise<string> {
  server = http.createServer((request, response) => void serveHudFile(dir, request, response, () => ({ ready: true })));
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

before(async () => {
  fs.mkdirSync(path.join(dist, 'assets'), { recursive: true });
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(dist, 'index.html'), '<!doctype html><title>HUD</title>');
  fs.writeFileSync(path.join(dist, 'assets', 'app.js'), 'console.log("hud")');
  fs.writeFileSync(path.join(outside, 'secret.txt'), 'the household notes');
  fs.symlinkSync(path.join(outside, 'secret.txt'), path.join(dist, 'leak.txt'));
  fs.symlinkSync(outside, path.join(dist, 'assets', 'elsewhere'));
  fs.symlinkSync('../../outside/secret.txt', path.join(dist, 'assets', 'relative.js'));
  fs.symlinkSync(path.join(dist, 'assets', 'app.js'), path.join(dist, 'inside.js'));
  base = await serve(dist);
});
after(() => {
  server.close();
  fs.rmSync(top, { recursive: true, force: true });
});

const get = async (pathname: string) => {
  const response = await fetch(`${base}${pathname}`);
  return { status: response.status, body: await response.text() };
};

describe('HUD static files and symbolic links', () => {
  test('a link to a file outside the folder is not served', async () => {
    assert.deepEqual(await get('/leak.txt'), { status: 404, body: 'not found\n' });
    assert.deepEqual(await get('/assets/relative.js'), { status: 404, body: 'not found\n' });
  });

  test('a link to a folder outside is not followed', async () => {
    assert.deepEqual(await get('/assets/elsewhere/secret.txt'), { status: 404, body: 'not found\n' });
  });

  test('the HUD itself, and a link that stays inside, are served', async () => {
    assert.equal((await get('/')).status, 200);
    assert.deepEqual(await get('/assets/app.js'), { status: 200, body: 'console.log("hud")' });
    assert.deepEqual(await get('/inside.js'), { status: 200, body: 'console.log("hud")' });
  });

  test('a served folder that is itself reached through a link works as before', async () => {
    const linked = path.join(top, 'linked-dist');
    fs.symlinkSync(dist, linked);
    const own = server;
    const ownBase = base;
    base = await serve(linked);
    try {
      assert.deepEqual(await get('/assets/app.js'), { status: 200, body: 'console.log("hud")' });
      assert.equal((await get('/leak.txt')).status, 404);
    } finally {
      server.close();
      server = own;
      base = ownBase;
    }
  });
});
