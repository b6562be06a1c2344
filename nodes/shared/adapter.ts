/**
 * What every node adapter does the same way (see ../shared/NOTES.md for why each matters):
 * - the input handler has exactly three parameters, so the runtime passes `send` and `done`;
 * - every message ends in exactly one `done()` / `done(err)`; `done(err)` is what makes the error
 *   reach a Catch node with the message attached;
 * - async handlers are awaited inside a try/catch, because a rejected promise from an input handler
 *   would otherwise become an unhandled rejection that no Catch node sees.
 */
import type { Node, NodeMessage, NodeMessageInFlow } from 'node-red';

export type Send = (msg: NodeMessage | Array<NodeMessage | NodeMessage[] | null>) => void;
/** null counts as no error, so a node can hand `done` on as an (err, …) callback */
export type Done = (err?: Error | null) => void;
export type InputHandler = (msg: NodeMessageInFlow & Record<string, any>, send: Send, done: Done) => void | Promise<void>;

/**
 * Register `handler` for input. The handler may call `done` itself (to hold a message, as a
 * buffering node does); if it neither calls `done` nor throws, `done()` is called when it returns
 * or resolves, unless it returned the string 'held'.
 */
export function onInput(node: Node, handler: (msg: NodeMessageInFlow & Record<string, any>, send: Send, done: Done) => unknown): void {
  node.on('input', (msg: NodeMessageInFlow, send: Send, done: (err?: Error) => void) => {
    let finished = false;
    const doneOnce: Done = (err) => {
      if (finished) return;
      finished = true;
      done(err ?? undefined);
    };
    try {
      const result = handler(msg as NodeMessageInFlow & Record<string, any>, send, doneOnce);
      if (result && typeof (result as Promise<unknown>).then === 'function') {
        (result as Promise<unknown>).then((resolved) => {
          if (resolved !== 'held') doneOnce();
        }, (err: unknown) => doneOnce(asError(err)));
      } else if (result !== 'held') {
        // synchronous handlers (the common case) allocate no closure beyond doneOnce
        doneOnce();
      }
    } catch (err) {
      doneOnce(asError(err));
    }
  });
}

/**
 * For a node that hands each message's `done` on to something that calls it exactly once, later
 * (edge-cache gives it to its store as the commit callback): the runtime's own `done` is passed
 * through unwrapped. onInput's once-only wrapper is a closure per message, and a held message's
 * closures live until its commit, long enough for the garbage collector to copy them. The handler
 * must call `done` itself on every path; a throw before it has handed `done` on becomes `done(err)`.
 */
export function onInputPassingDone(node: Node, handler: (msg: NodeMessageInFlow & Record<string, any>, done: Done) => void): void {
  node.on('input', (msg: NodeMessageInFlow, _send: Send, done: (err?: Error) => void) => {
    try {
      // null counts as no error (Done), which the runtime's done treats the same as undefined
      handler(msg as NodeMessageInFlow & Record<string, any>, done as Done);
    } catch (err) {
      done(asError(err));
    }
  });
}

export function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** Parse a number typed into the editor; blank gives `fallback`. Throws a ConfigError-style message. */
export function configNumber(value: unknown, property: string, fallback?: number): number {
  if ((value === undefined || value === null || value === '') && fallback !== undefined) return fallback;
  const n = typeof value === 'number' ? value : Number(String(value).trim());
  if (!Number.isFinite(n)) throw new Error(`config ${property}: expected a number, got ${JSON.stringify(value)}`);
  return n;
}
