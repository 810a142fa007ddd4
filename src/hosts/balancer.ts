// What jailnet asks of a host to balance a pod's connections over real servers: the rules
// as data (balancer/rules.ts) made true in the pod's own network stack in one change, the
// live connections counted per real server, tracked flows ended. Each driver renders the
// rules in its packet filter (Linux: linux/nft-balancer.ts). No rule text crosses this interface.
import type { ConnectionCounts } from '../balancer/listing.js';
import type { BalancerRules, LbProtocol, Timeouts } from '../balancer/rules.js';
import type { Vnet } from './host.js';

export interface LoadBalancer {
  /** The schedulers this driver implements with their real semantics; any other is refused before a change. */
  readonly schedulers: readonly string[];
  /** Refuses, before any change, rules this driver cannot express (throws BalancerError with the reason). */
  check?(rules: BalancerRules): void;
  /** Makes the vnet hold `next` where it holds `previous`, in one transaction of the packet filter. */
  apply(previous: BalancerRules, next: BalancerRules, vnet: Vnet): Promise<void>;
  /** Live connections per real server of the rules' services. */
  connections(rules: BalancerRules, vnet: Vnet): Promise<ConnectionCounts>;
  /** The connection timeouts the services' connections get now (`ipvsadm -L --timeout`). */
  timeouts(rules: BalancerRules, vnet: Vnet): Promise<Timeouts>;
  /**
   * What of `rules` the vnet no longer holds, in words (a pf reload or an `nft flush` inside
   * the pod takes them); undefined when it holds them. Only reads.
   */
  drift(rules: BalancerRules, vnet: Vnet): Promise<string | undefined>;
  /** Ends the tracked flows of a protocol whose original destination is the address; returns how many. */
  killFlows(address: string, protocol: LbProtocol, vnet: Vnet): Promise<number>;
}
