// The loopback plugin: lo0 up with 127.0.0.1/8 inside the jail (::1 comes with it).
import { CniError, ErrorCode } from '../cni/errors.js';
import type { Result } from '../cni/result.js';
import type { Plugin, PluginRequest } from '../cni/skel.js';
import { jailOf, pluginHost } from './host-for-plugin.js';

async function add(request: PluginRequest): Promise<Result> {
  const host = pluginHost();
  const jail = jailOf(request.netns);
  const lo = await host.inspectInterface('lo0', jail).catch(() => undefined);
  if (!lo) throw new CniError(ErrorCode.UnknownContainer, `jail "${jail}" not found or has no lo0`);
  if (!lo.inet.some((a) => a.address === '127.0.0.1')) await host.addAddress('lo0', '127.0.0.1/8', jail);
  if (!lo.up) await host.setUp('lo0', true, jail);
  return {
    interfaces: [{ name: 'lo0', mac: '00:00:00:00:00:00', sandbox: jail }],
    ips: [
      { interface: 0, address: '127.0.0.1/8' },
      { interface: 0, address: '::1/128' },
    ],
    routes: [],
    dns: {},
  };
}

async function check(request: PluginRequest): Promise<void> {
  const lo = await pluginHost().inspectInterface('lo0', jailOf(request.netns));
  if (!lo?.up || !lo.inet.some((a) => a.address === '127.0.0.1')) {
    throw new CniError(ErrorCode.CheckFailed, `lo0 in ${request.netns} is not up with 127.0.0.1`);
  }
}

// lo0 lives and dies with the vnet: there is nothing to take away.
const nothing = async (): Promise<void> => undefined;

export const loopback: Plugin = { add, del: nothing, check, gc: nothing, status: nothing };
