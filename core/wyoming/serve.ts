import { describeError } from '../../base/errors.ts';
import type { Logger } from '../../base/log.ts';
import type { JarvisConfig } from '../../config/schema.ts';
import type { Problem } from '../protocol/state.ts';
import { WyomingServer } from './server.ts';
import type { WyomingEngines } from './session.ts';

/** The problem id of a Wyoming server that could not start. */
export const WYOMING_PROBLEM = 'wyoming-server';

/**
 * Starts the Wyoming server for the daemon. One that cannot start (its port taken, an address this machine does not
 * have) becomes a problem with its fix on the assistant's list, and JARVIS goes on without it.
 */
export async function serveWyoming(
  config: JarvisConfig,
  options: { engines: WyomingEngines; config: () => JarvisConfig; log: Logger; onProblem: (problem: Problem) => void },
): Promise<WyomingServer | undefined> {
  const server = new WyomingServer({ settings: config.wyoming, engines: options.engines, config: options.config, log: options.log });
  try {
    await server.start();
    return server;
  } catch (error) {
    await server.close();
    const { message, fix } = describeError(error);
    options.log.error({ err: message }, 'the Wyoming server did not start');
    options.onProblem({ id: WYOMING_PROBLEM, message: `the Wyoming server did not start: ${message}`, fix: fix ?? 'See the log for details.', blocking: false });
    return undefined;
  }
}
