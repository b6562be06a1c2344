/**
 * The forwarder most store tests use: string records (stored as their bytes), deliveries and
 * events pushed onto the caller's lists, a 10 ms commit interval, a 1 s ack timeout and 500 ms
 * probes, unless `opts` says otherwise.
 */
import { StoreForwarder, type Delivery, type ForwarderEvent, type ForwarderOptions, type StoreQueue } from '../../../lib/store/forwarder';
import type { Clock } from '../../../lib/store/clock';

export function stringForwarder(queue: StoreQueue, clock: Clock, delivered: Array<Delivery<string>>, events: ForwarderEvent[], opts: Partial<ForwarderOptions<string>> = {}): StoreForwarder<string> {
  return new StoreForwarder<string>({
    queue,
    clock,
    decode: (row) => row.body.toString(),
    deliver: (d) => delivered.push(d),
    onEvent: (e) => events.push(e),
    commitIntervalMs: 10,
    ackTimeoutMs: 1000,
    retryIntervalMs: 500,
    ...opts,
  });
}
