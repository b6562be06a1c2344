/** What the ai-broker config node offers the nodes that use it. */
import type { Node } from 'node-red';
import type { SyncClient } from '../../lib/sync/transport';

export interface AiBrokerNode extends Node {
  /** resolves with the shared client once the connection exists (the embedded broker started) */
  client(): Promise<SyncClient>;
  register(user: Node): void;
  deregister(user: Node, done: () => void): void;
  /** where the nodes connect: the configured URL or the embedded broker's */
  brokerUrl: string;
  configError: string | null;
}

