// What an attachment needs, computed from the config and the IPAM result before any
// host command: gateway addresses for the bridge, container addresses and routes,
// masqueraded addresses, forwarding families.
import type { IPConfig, Result, Route } from '../../cni/result.js';
import { familyOf, formatIP, networkAddress, parsePrefix } from '../../ipam/ip.js';
import type { BridgeConf } from './config.js';

export interface AttachmentPlan {
  /** "gw/prefix" to put on the bridge (one per family at most). */
  gatewayAddresses: string[];
  /** "ip/prefix" for the container interface. */
  containerAddresses: string[];
  routes: Route[];
  /** Bare container addresses to masquerade. */
  masqueraded: string[];
  forwarding: Array<4 | 6>;
  /** The IPAM result's ips, each pointing at the container interface (index 2). */
  ips: IPConfig[];
}

/** The first usable address of the subnet, the gateway the reference picks when none is given. */
function firstAddress(cidr: string): string | undefined {
  const prefix = parsePrefix(cidr);
  if (!prefix) return undefined;
  const network = networkAddress(prefix);
  return formatIP({ family: network.family, value: network.value + 1n });
}

export function planAttachment(conf: BridgeConf, ipam: Result): AttachmentPlan {
  const ips = ipam.ips.map((ip) => ({ ...ip, interface: 2 }));
  if (conf.isGateway) {
    for (const ip of ips) ip.gateway ??= firstAddress(ip.address);
  }
  const gatewayAddresses: string[] = [];
  if (conf.isGateway) {
    for (const ip of ips) {
      const bits = ip.address.split('/')[1];
      const entry = `${ip.gateway}/${bits}`;
      if (ip.gateway && !gatewayAddresses.some((g) => familyOf(g) === familyOf(entry))) gatewayAddresses.push(entry);
    }
  }
  const routes = ipam.routes.map((r) => ({ ...r }));
  if (conf.isDefaultGateway) {
    for (const ip of ips) {
      const dst = familyOf(ip.address) === 4 ? '0.0.0.0/0' : '::/0';
      if (ip.gateway && !routes.some((r) => r.dst === dst)) routes.push({ dst, gw: ip.gateway });
    }
  }
  // A route without gw goes via the gateway of its family, as the reference's ConfigureIface does.
  for (const route of routes) {
    route.gw ??= ips.find((ip) => familyOf(ip.address) === familyOf(route.dst))?.gateway;
  }
  return {
    gatewayAddresses,
    containerAddresses: ips.map((ip) => ip.address),
    routes: routes.filter((r) => r.gw !== undefined),
    masqueraded: conf.ipMasq ? ips.map((ip) => ip.address.split('/')[0] as string) : [],
    forwarding: conf.isGateway ? [...new Set(ips.map((ip) => familyOf(ip.address)))] : [],
    ips,
  };
}
