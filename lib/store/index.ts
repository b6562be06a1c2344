/** The durable store: edge-cache's queue, reusable by cloud-sync for its sample store. */
export * from './queue';
export * from './forwarder';
export * from './clock';
export * from './codec';
export * from './worker-queue';
