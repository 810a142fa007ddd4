// Plugins whose FreeBSD implementation has not landed yet: they answer VERSION (the
// skeleton does that) and refuse every other command with a clear error, so a chain
// that names them fails loudly instead of pretending to have configured something.
import { CniError, ErrorCode } from '../cni/errors.js';
import type { Plugin } from '../cni/skel.js';

export function pendingPlugin(name: string): Plugin {
  const refuse = async (): Promise<never> => {
    throw new CniError(
      ErrorCode.NotAvailable,
      `the jailnet ${name} plugin is not available in this release`,
      'only VERSION is answered; use host-local, or the reference plugin, until it lands',
    );
  };
  return { add: refuse, del: refuse, check: refuse, gc: refuse, status: refuse };
}
