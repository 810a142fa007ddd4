// The load balancer on FreeBSD is to be the pod's own vnet pf (rdr pools in jailnet's
// anchor for the pod, locally originated connections sent through lo0 by route-to). It is
// not built yet: every request is refused, before any change, with a message that says so.
import { BalancerError, type Timeouts } from '../../balancer/rules.js';
import type { LoadBalancer } from '../balancer.js';

const NOT_YET = 'the load balancer (kata-ipvs) is not available on FreeBSD in this version of jailnet: its pf rendering is not built yet';

export class PfLoadBalancer implements LoadBalancer {
  readonly schedulers: readonly string[] = [];
  readonly unavailable = NOT_YET;

  apply(): Promise<void> {
    return Promise.reject(new BalancerError(NOT_YET));
  }

  connections(): Promise<never> {
    return Promise.reject(new BalancerError(NOT_YET));
  }

  timeouts(): Promise<Timeouts> {
    return Promise.reject(new BalancerError(NOT_YET));
  }

  killFlows(): Promise<number> {
    return Promise.reject(new BalancerError(NOT_YET));
  }
}
