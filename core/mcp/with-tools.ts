import { FrontResponder } from '../front-responder.ts';
import type { Responder, ResponseRequest, ToolCallContext, ToolDefinition, ToolHost, ToolOutcome } from '../responder.ts';

/**
 * Several ToolHosts as one (the skills and the MCP servers): the definitions of all of them, read afresh on every
 * question so a server's changed tool list is offered at once, and each call sent to the host that defines it.
 */
export class CompositeToolHost implements ToolHost {
  readonly #hosts: readonly ToolHost[];

  constructor(hosts: readonly (ToolHost | undefined)[]) {
    this.#hosts = hosts.filter((h): h is ToolHost => h !== undefined);
  }

  get definitions(): readonly ToolDefinition[] {
    return this.#hosts.flatMap((h) => h.definitions);
  }

  /** The most any one host allows: the skills' limit (skills.maxToolCallsPerTurn) is the configured one. */
  get maxCallsPerTurn(): number {
    return Math.max(1, ...this.#hosts.map((h) => h.maxCallsPerTurn));
  }

  call(name: string, params: unknown, context: ToolCallContext): Promise<ToolOutcome> {
    const host = this.#hosts.find((h) => h.definitions.some((d) => d.name === name));
    if (!host) return Promise.resolve({ result: { ok: false, error: `there is no function called ${name}` } });
    return host.call(name, params, context);
  }
}

/** `llm` with `tools` offered next to whatever the request already offers (the skills' functions). */
export class WithToolsResponder extends FrontResponder {
  constructor(
    inner: Responder,
    private readonly tools: ToolHost,
  ) {
    super(inner);
  }

  respond(request: ResponseRequest): AsyncIterable<string> {
    const tools = this.tools.definitions.length === 0 ? request.tools : request.tools ? new CompositeToolHost([request.tools, this.tools]) : this.tools;
    return this.inner.respond({ ...request, ...(tools ? { tools } : {}) });
  }
}
