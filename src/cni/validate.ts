// The identifier rules of libcni's pkg/utils, shared by plugins and the chain runner: what
// any CNI runtime may send. Names jailnet itself creates (networks, pods, interfaces it
// names) follow the stricter rules of src/names.ts.
import { CniError, ErrorCode } from './errors.js';

const ID_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
export const IFNAMSIZ = 16;
/**
 * Container IDs and network names become file names (`<network>-<id>-<ifname>` in the
 * result cache and the records); with these bounds such a name stays under NAME_MAX (255).
 * Runtimes use 64-character IDs.
 */
export const MAX_CONTAINER_ID = 128;
export const MAX_NETWORK_NAME = 100;

export function validateContainerId(id: string): void {
  if (id === '') throw new CniError(ErrorCode.UnknownContainer, 'missing containerID');
  if (!ID_PATTERN.test(id)) {
    throw new CniError(ErrorCode.InvalidEnvironment, 'invalid characters in containerID', JSON.stringify(id.slice(0, 80)));
  }
  if (id.length > MAX_CONTAINER_ID) throw new CniError(ErrorCode.InvalidEnvironment, `containerID is longer than ${MAX_CONTAINER_ID} characters`);
}

export function validateCniNetworkName(name: string | undefined): void {
  if (!name) throw new CniError(ErrorCode.InvalidConfig, 'missing network name');
  if (!ID_PATTERN.test(name)) {
    throw new CniError(ErrorCode.InvalidConfig, 'invalid characters found in network name', JSON.stringify(name.slice(0, 80)));
  }
  if (name.length > MAX_NETWORK_NAME) throw new CniError(ErrorCode.InvalidConfig, `network name is longer than ${MAX_NETWORK_NAME} characters`);
}

/** An interface name must fit IFNAMSIZ and be a usable file and device name. */
export function validateCniInterfaceName(ifname: string): void {
  const fail = (details: string): never => {
    throw new CniError(ErrorCode.InvalidEnvironment, 'invalid network interface name', details);
  };
  if (ifname === '') fail('interface name is empty');
  if (ifname.length > IFNAMSIZ - 1) fail(`interface name is too long: "${ifname}" (at most ${IFNAMSIZ - 1} characters)`);
  if (ifname === '.' || ifname === '..') fail(`interface name is . or ..: "${ifname}"`);
  // eslint-disable-next-line no-control-regex
  if (/[\s/:\u0000-\u001f\u007f]/.test(ifname)) {
    fail(`interface name contains / or : or whitespace or control characters: ${JSON.stringify(ifname)}`);
  }
}
