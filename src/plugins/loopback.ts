// The loopback plugin: the loopback interface (lo0, lo) up with 127.0.0.1/8 inside the
// sandbox (::1 comes with it).
import { CniError, ErrorCode } from '../cni/errors.js';
import type { Result } from '../cni/result.js';
import type { Plugin, PluginRequest } from '../cni/skel.js';
import { pluginHost, sandboxOf } from './host-for-plugin.js';

/**
 * One command where the sandbox is new (its loopback down, without an address): the address
 * and up together, no read first. Adding 127.0.0.1/8 again is no error: FreeBSD's in.c
 * in_aifaddr_ioctl removes the address the interface already has (in_difaddr_ioctl, which
 * drops routes through it: none in a pod) and adds it anew; Linux's answer, "Address already
 * assigned", is passed over by the driver.
 */
async function add(request: PluginRequest): Promise<Result> {
  const host = pluginHost();
  const vnet = sandboxOf(host, request.netns);
  try {
    await host.configureInterface(host.loopback, ['127.0.0.1/8'], [], vnet);
  } catch (error) {
    if ((await host.sandboxState(vnet).catch(() => 'missing')) !== 'own') throw new CniError(ErrorCode.UnknownContainer, `sandbox "${vnet}" not found or has no ${host.loopback}`);
    throw error;
  }
  return {
    interfaces: [{ name: host.loopback, mac: '00:00:00:00:00:00', sandbox: request.netns }],
    ips: [
      { interface: 0, address: '127.0.0.1/8' },
      { interface: 0, address: '::1/128' },
    ],
    routes: [],
    dns: {},
  };
}

async function check(request: PluginRequest): Promise<void> {
  const host = pluginHost();
  const lo = await host.inspectInterface(host.loopback, sandboxOf(host, request.netns));
  if (!lo?.up || !lo.inet.some((a) => a.address === '127.0.0.1')) {
    throw new CniError(ErrorCode.CheckFailed, `${host.loopback} in ${request.netns} is not up with 127.0.0.1`);
  }
}

// The loopback interface lives and dies with the sandbox: there is nothing to take away.
const nothing = async (): Promise<void> => undefined;

export const loopback: Plugin = { add, del: nothing, check, gc: nothing, status: nothing };
