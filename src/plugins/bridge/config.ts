// The bridge plugin's configuration: every field of the reference bridge config.
import { z } from 'zod';
import { pickCniArgs } from '../../cni/args.js';
import { checkIpamType } from '../../cni/delegate.js';
import { CniError, ErrorCode } from '../../cni/errors.js';
import { parseConfig } from '../../cni/netconf.js';
import type { PluginRequest } from '../../cni/skel.js';
import { isInterfaceName, isUnicastMac } from '../../names.js';

/** The MTUs FreeBSD's ifconfig accepts (the simulator's ifconfig: 72 to 65535, per if.c ifhwioctl SIOCSIFMTU). */
export const MIN_MTU = 72;
export const MAX_MTU = 65535;

export const BridgeConfSchema = z.looseObject({
  bridge: z.string().refine(isInterfaceName, { message: 'bridge must be an interface name of at most 15 characters' }).default('cni0'),
  isGateway: z.boolean().default(false),
  isDefaultGateway: z.boolean().default(false),
  forceAddress: z.boolean().default(false),
  ipMasq: z.boolean().default(false),
  mtu: z.number().int().min(0).max(MAX_MTU).default(0),
  hairpinMode: z.boolean().default(false),
  promiscMode: z.boolean().default(false),
  vlan: z.number().int().min(0).max(4094).default(0),
  vlanTrunk: z.array(z.unknown()).optional(),
  macspoofchk: z.boolean().optional(),
  enabledad: z.boolean().optional(),
  ipam: z.looseObject({ type: z.string() }).optional(),
  args: z.looseObject({ cni: z.looseObject({ mac: z.string().optional() }).optional() }).optional(),
  runtimeConfig: z.looseObject({ mac: z.string().optional() }).optional(),
});

export type BridgeConf = z.infer<typeof BridgeConfSchema> & { mac?: string };

export function loadBridgeConf(request: PluginRequest): BridgeConf {
  const conf: BridgeConf = parseConfig(BridgeConfSchema, request.config);
  if (conf.ipam) checkIpamType(conf.ipam.type, 'bridge');
  // FreeBSD 14's if_bridge has no VLAN filtering: say so rather than ignore it.
  if (conf.vlan !== 0) throw new CniError(ErrorCode.UnsupportedField, `unsupported field "vlan": ${conf.vlan}`, 'FreeBSD 14 bridges cannot filter VLANs');
  if (conf.vlanTrunk !== undefined) throw new CniError(ErrorCode.UnsupportedField, 'unsupported field "vlanTrunk"', 'FreeBSD 14 bridges cannot filter VLANs');
  // Accepting it would promise a filter nobody installs.
  if (conf.macspoofchk === true) throw new CniError(ErrorCode.UnsupportedField, 'unsupported field "macspoofchk": true', "jailnet does not filter a pod's frames by their source MAC address");
  if (conf.mtu !== 0 && conf.mtu < MIN_MTU) throw new CniError(ErrorCode.InvalidConfig, `invalid mtu ${conf.mtu}`, `FreeBSD interfaces take ${MIN_MTU} to ${MAX_MTU}`);
  const { MAC: fromEnv } = pickCniArgs(request.args, ['MAC', 'IP', 'K8S_POD_NAME', 'K8S_POD_NAMESPACE', 'K8S_POD_INFRA_CONTAINER_ID', 'K8S_POD_UID']);
  const mac = conf.runtimeConfig?.mac ?? conf.args?.cni?.mac ?? fromEnv;
  if (mac !== undefined) {
    if (!isUnicastMac(mac)) throw new CniError(ErrorCode.InvalidConfig, `invalid MAC address "${mac}"`, 'a unicast address is needed: not zero, broadcast or multicast');
    conf.mac = mac.toLowerCase();
  }
  return conf;
}
