// setup's answer for one network, netavark's StatusBlock, from the chain's CNI result: the
// container interface's MAC and its addresses with their gateways (podman writes them into
// /etc/hosts, inspect and `network reload`), and the DNS servers and search domains.
import { DNS_SEARCH_DOMAIN } from '../dns/aardvark.js';
import type { NetworkAttachment } from './plan.js';
import type { NetworkOptions } from './wire.js';

export interface StatusBlock {
  dns_search_domains: string[];
  dns_server_ips: string[];
  interfaces: Record<string, { mac_address: string; subnets: Array<{ ipnet: string; gateway?: string }> }>;
}

interface CniResultShape {
  interfaces?: Array<{ name: string; mac?: string; sandbox?: string }>;
  ips?: Array<{ address: string; gateway?: string; interface?: number }>;
}

/**
 * With names served (aardvark-dns runs for this network), the gateways are the container's
 * nameservers under the search domain dns.podman. Otherwise none is advertised: the
 * container's own servers (podman's --dns) when it has some, else none, and podman falls
 * back to its own list. netavark names the gateway even without aardvark-dns, a resolver
 * that never answers (netavark-contract.md §6); jailnet does not.
 */
export function statusBlock(attachment: NetworkAttachment, result: Record<string, unknown>, options: NetworkOptions, named: boolean): StatusBlock {
  const { interfaces = [], ips = [] } = result as CniResultShape;
  const index = interfaces.findIndex((i) => i.name === attachment.ifname && i.sandbox !== undefined);
  const pod = interfaces[index];
  const subnets = ips
    .filter((ip) => ip.interface === undefined || ip.interface === index)
    .map((ip) => ({ ipnet: ip.address, ...(ip.gateway ? { gateway: ip.gateway } : {}) }));
  return {
    dns_search_domains: named ? [DNS_SEARCH_DOMAIN] : [],
    dns_server_ips: named && attachment.dns ? attachment.dns.network.listen : (options.dns_servers ?? []),
    interfaces: { [attachment.ifname]: { mac_address: (pod?.mac ?? '').toLowerCase(), subnets } },
  };
}
