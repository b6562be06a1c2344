/** cloud-sync's core: signed model manifests, the gateway receiver, MQTT transport, edge and cloud roles. */
export * from './manifest';
export * from './receiver';
export * from './transport';
export * from './edge';
export * from './cloud';
// retrain.ts (tfjs) is not re-exported here: import '../sync/retrain' where training is wanted
