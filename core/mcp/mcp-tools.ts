import { EventEmitter } from 'node:events';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import type { Clock } from '../../base/clock.ts';
import { isAbortError } from '../../base/errors.ts';
import type { Logger } from '../../base/log.ts';
import type { JarvisConfig, McpServerConfig, ToolPolicy } from '../../config/schema.ts';
import type { RunRecorder } from '../events.ts';
import type { IntentSource } from '../protocol/run-events.ts';
import type { ToolCallContext, ToolDefinition, ToolHost, ToolOutcome } from '../responder.ts';
import { Confirmations } from './confirmations.ts';
import { McpCallError, McpConnection, type ConnectionState } from './mcp-connection.ts';
import { confirmQuestion, doneSentence, failureSentence } from './spoken-call.ts';
import { namespacedToolName, shortDescription } from './tool-names.ts';
import { callNeedsConfirmation, toolPolicy, type PolicyDecision } from './tool-policy.ts';
import { grammarSchema, withoutNulls } from './tool-schema.ts';

/**
 * The tools of every configured MCP server, as one ToolHost for the LLM and as direct calls for device phrases.
 * A tool whose policy is "deny" is never offered; a "confirm" tool (or a call on a lock or a door) is not run but
 * asked about ("Unlock the front door?"), and runs when the answer is yes (core/mcp/confirmations.ts). Every call
 * ends in one sentence that is said at once: what was done, or what went wrong ("The home server did not answer."),
 * so a crashed, hung or failing server costs that sentence and never the turn. Calls are reported as
 * intent-start/intent-end run events with the skill "mcp.<server>.<tool>".
 */

export type McpSettings = JarvisConfig['mcp'];

/** One tool of one server, as JARVIS offers it. */
export interface OfferedTool {
  readonly server: McpConnection;
  readonly tool: Tool;
  /** The name the LLM sees (server__tool). */
  readonly name: string;
  readonly decision: PolicyDecision;
}

/** What `jarvis doctor` prints per server. */
export interface McpServerReport {
  readonly name: string;
  readonly transport: string;
  readonly state: ConnectionState;
  readonly error?: { message: string; fix?: string };
  readonly tools: readonly { name: string; policy: ToolPolicy; configured: boolean }[];
}

const MAX_RESULT_CHARS = 2000;
type Events = { changed: [] };

export class McpTools extends EventEmitter<Events> implements ToolHost {
  readonly connections: readonly McpConnection[];
  readonly confirmations: Confirmations;
  #offered: readonly OfferedTool[] | undefined;
  #definitions: readonly ToolDefinition[] | undefined;

  constructor(
    servers: readonly McpServerConfig[],
    private readonly settings: McpSettings,
    private readonly log: Logger,
    private readonly clock: Clock,
    readonly maxCallsPerTurn: number,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    super();
    this.confirmations = new Confirmations(clock, settings.confirmTimeoutMs);
    this.connections = servers.map((server) => {
      const connection = new McpConnection(server, { log, env, timeoutMs: settings.timeoutMs, retryMs: settings.retryMs, maxRetryMs: settings.maxRetryMs });
      connection.on('tools', () => {
        this.#offered = undefined;
        this.#definitions = undefined;
        this.emit('changed');
      });
      return connection;
    });
  }

  /** Connects to every server in the background. */
  start(): void {
    for (const connection of this.connections) connection.start();
  }

  /**
   * Resolves once every server has connected or failed its first try, or after `timeoutMs`: a one-shot
   * `jarvis ask "turn off the kitchen lights"` needs the tools before it answers, a daemon does not wait.
   */
  async settled(timeoutMs: number): Promise<void> {
    await Promise.allSettled(this.connections.map((connection) => connection.connected(timeoutMs)));
  }

  /** The tools offered now (connected servers, "deny" left out). */
  get offered(): readonly OfferedTool[] {
    this.#offered ??= this.connections.flatMap((server) =>
      server.tools.flatMap((tool) => {
        const decision = toolPolicy(server.server.policy, tool.name, tool.annotations);
        return decision.policy === 'deny' ? [] : [{ server, tool, name: namespacedToolName(server.name, tool.name), decision }];
      }),
    );
    return this.#offered;
  }

  get definitions(): readonly ToolDefinition[] {
    this.#definitions ??= this.offered.map(({ name, tool }) => {
      const params = grammarSchema(tool.inputSchema);
      return { name, description: shortDescription(tool.description ?? tool.title ?? name, this.settings.descriptionChars), ...(params ? { params } : {}) };
    });
    return this.#definitions;
  }

  /** A tool offered under its own name on some server (e.g. Home Assistant's "HassTurnOff"), for device phrases. */
  find(toolName: string): OfferedTool | undefined {
    return this.offered.find((o) => o.tool.name === toolName);
  }

  /** The LLM called `name`. */
  async call(name: string, params: unknown, context: ToolCallContext): Promise<ToolOutcome> {
    const offered = this.offered.find((o) => o.name === name);
    if (!offered) return { result: { ok: false, error: `there is no function called ${name}` } };
    return this.run(offered, withoutNulls(params), context, 'llm');
  }

  /** Runs a call, or asks first when it must be confirmed; the outcome's `said` is its one sentence. */
  /** `target`: the thing as the user named it ("the kitchen lights"), for the sentences; else read from `args`. */
  async run(offered: OfferedTool, args: Record<string, unknown>, context: ToolCallContext, via: IntentSource, target?: string): Promise<ToolOutcome> {
    if (!callNeedsConfirmation(offered.decision, args)) return this.#execute(offered, args, context.signal, context.run, via, target);
    const question = confirmQuestion(offered.tool.name, args, target);
    const skill = skillName(offered);
    context.run?.emit({ type: 'intent-start', skill, args, via });
    this.confirmations.ask(question, async (signal, run) => (await this.#execute(offered, args, signal, run, via, target)).said ?? '');
    this.log.info({ server: offered.server.name, tool: offered.tool.name }, `asked to confirm: ${question}`);
    context.run?.emit({ type: 'intent-end', skill, ok: true, ms: 0, said: question, code: 'confirm-asked' });
    return {
      result: { ok: false, status: 'not done yet: the user was asked to confirm, and their yes or no is handled without you; add nothing', alreadyToldUser: question },
      said: question,
    };
  }

  /** Per server: connected or why not, and its tools with their policies (denied ones included). */
  report(): McpServerReport[] {
    return this.connections.map((c) => ({
      name: c.name,
      transport: c.server.command ? `stdio: ${[c.server.command, ...c.server.args].join(' ')}` : `http: ${c.server.url}`,
      state: c.state,
      ...(c.lastError ? { error: c.lastError } : {}),
      tools: c.tools.map((t) => {
        const { policy, configured } = toolPolicy(c.server.policy, t.name, t.annotations);
        return { name: t.name, policy, configured };
      }),
    }));
  }

  async dispose(): Promise<void> {
    this.confirmations.dispose();
    await Promise.all(this.connections.map((c) => c.dispose()));
    this.removeAllListeners();
  }

  async #execute(offered: OfferedTool, args: Record<string, unknown>, signal: AbortSignal, run: RunRecorder | undefined, via: IntentSource, target?: string): Promise<ToolOutcome> {
    const { server, tool } = offered;
    const skill = skillName(offered);
    const started = this.clock.monotonic();
    run?.emit({ type: 'intent-start', skill, args, via });
    try {
      const result = await server.call(tool.name, args, signal);
      const said = doneSentence(tool.name, args, result.text, target);
      run?.emit({ type: 'intent-end', skill, ok: true, ms: this.clock.monotonic() - started, said });
      return { result: { ok: true, alreadyToldUser: said, result: result.data ?? result.text.slice(0, MAX_RESULT_CHARS) }, said };
    } catch (error) {
      if (isAbortError(error) || signal.aborted) throw error;
      const failure = error instanceof McpCallError ? error.failure : 'error';
      const message = error instanceof Error ? error.message : String(error);
      const said = failureSentence(server.name, failure, failure === 'error' ? message : undefined);
      this.log.warn({ server: server.name, tool: tool.name, failure }, `MCP call failed: ${message}`);
      run?.emit({ type: 'intent-end', skill, ok: false, ms: this.clock.monotonic() - started, said, code: `mcp-${failure}` });
      return { result: { ok: false, error: message, alreadyToldUser: said }, said };
    }
  }
}

function skillName(offered: OfferedTool): string {
  return `mcp.${offered.server.name}.${offered.tool.name}`;
}
