// A pod's load balancer as data: virtual services, each with its scheduler, persistence
// and real servers, plus the connection timeouts of `--set`. ipvsadm's commands change
// it as pure functions, with ipvsadm's own error texts (libipvs.c ipvs_strerror) and the
// contract's 20,000-rule limit (runtime-network-api.md §1.7), so a command is checked in
// full before any host sees a change. Drivers render the result (linux/nft-balancer.ts).

export type LbProtocol = 'tcp' | 'udp';

/** What identifies a virtual service: `-t|-u ADDRESS:PORT`. */
export interface ServiceKey {
  protocol: LbProtocol;
  address: string;
  port: number;
}

export interface ServerKey {
  address: string;
  port: number;
}

export interface RealServer extends ServerKey {
  /** 0 takes no new connections (ipvsadm's quiesced server); 1 unless given. */
  weight: number;
}

export interface VirtualService extends ServiceKey {
  scheduler: string;
  /** Seconds a client stays on its real server; undefined: not persistent. */
  persistence?: number;
  servers: RealServer[];
}

/** `--set tcp tcpfin udp`, in seconds; 0 in a command leaves that one as it was. */
export interface Timeouts {
  tcp: number;
  tcpfin: number;
  udp: number;
}

/** `--set`'s 0 means "as it was": each driver fills those from its own defaults. */
export const withDefaults = (t: Timeouts, defaults: Timeouts): Timeouts => ({ tcp: t.tcp || defaults.tcp, tcpfin: t.tcpfin || defaults.tcpfin, udp: t.udp || defaults.udp });

export interface BalancerRules {
  services: VirtualService[];
  timeouts?: Timeouts;
}

/** The contract's limit: add-service and add-server each count one rule. */
export const RULE_LIMIT = 20_000;

/** A refusal with ipvsadm's (or the contract's) own text. */
export class BalancerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BalancerError';
  }
}

export const emptyRules = (): BalancerRules => ({ services: [] });

/** Rules that ask nothing of the host: no service and no `--set` timeouts. */
export const isEmptyRules = (rules: BalancerRules): boolean => rules.services.length === 0 && !rules.timeouts;

/** A drift's words for services the packet filter no longer holds (`where`: the driver's place for them). */
export const servicesGone = (missing: ServiceKey[], where = ''): string =>
  `load balancer service${missing.length > 1 ? 's' : ''} ${missing.map((s) => `${s.protocol} ${s.address}:${s.port}`).join(', ')} gone${where}`;

export function ruleCount(rules: BalancerRules): number {
  return rules.services.reduce((n, s) => n + 1 + s.servers.length, 0);
}

export const sameService = (a: ServiceKey, b: ServiceKey): boolean => a.protocol === b.protocol && a.address === b.address && a.port === b.port;
export const sameServer = (a: ServerKey, b: ServerKey): boolean => a.address === b.address && a.port === b.port;
export const serviceText = (s: ServiceKey): string => `${s.protocol.toUpperCase()} ${s.address}:${s.port}`;

/** One change to the rules, as ipvsadm's commands name them. */
export type RuleChange =
  | { kind: 'add-service'; service: ServiceKey; scheduler: string; persistence?: number }
  | { kind: 'edit-service'; service: ServiceKey; scheduler?: string; persistence?: number }
  | { kind: 'delete-service'; service: ServiceKey }
  | { kind: 'add-server'; service: ServiceKey; server: ServerKey; weight?: number }
  | { kind: 'edit-server'; service: ServiceKey; server: ServerKey; weight?: number }
  | { kind: 'delete-server'; service: ServiceKey; server: ServerKey }
  | { kind: 'clear' }
  | { kind: 'set-timeouts'; timeouts: Timeouts };

function findService(rules: BalancerRules, key: ServiceKey, missing: string): VirtualService {
  const service = rules.services.find((s) => sameService(s, key));
  if (!service) throw new BalancerError(missing);
  return service;
}

function checkRoom(rules: BalancerRules): void {
  if (ruleCount(rules) >= RULE_LIMIT) throw new BalancerError('rules exceed limit, should clear first');
}

/** `-p 0` means "not persistent" (the contract strips it), on add and on edit alike. */
const persistenceOf = (seconds: number | undefined): { persistence?: number } => (seconds ? { persistence: seconds } : {});

function changeService(rules: BalancerRules, change: RuleChange & { service: ServiceKey }): VirtualService[] {
  const others = rules.services.filter((s) => !sameService(s, change.service));
  switch (change.kind) {
    case 'add-service':
      if (others.length !== rules.services.length) throw new BalancerError('Service already exists');
      checkRoom(rules);
      return [...rules.services, { ...change.service, scheduler: change.scheduler, ...persistenceOf(change.persistence), servers: [] }];
    case 'edit-service': {
      const { persistence, ...service } = findService(rules, change.service, 'No such service');
      const kept = change.persistence === undefined ? persistenceOf(persistence) : persistenceOf(change.persistence);
      const edited = { ...service, ...kept, scheduler: change.scheduler ?? service.scheduler };
      return rules.services.map((s) => (sameService(s, change.service) ? edited : s));
    }
    case 'delete-service':
      findService(rules, change.service, 'No such service');
      return others;
    default:
      return rules.services.map((s) => (sameService(s, change.service) ? changeServer(rules, s, change) : s));
  }
}

function changeServer(rules: BalancerRules, service: VirtualService, change: RuleChange): VirtualService {
  if (change.kind !== 'add-server' && change.kind !== 'edit-server' && change.kind !== 'delete-server') return service;
  const existing = service.servers.find((r) => sameServer(r, change.server));
  if (change.kind === 'add-server') {
    if (existing) throw new BalancerError('Destination already exists');
    checkRoom(rules);
    return { ...service, servers: [...service.servers, { ...change.server, weight: change.weight ?? 1 }] };
  }
  if (!existing) throw new BalancerError('No such destination');
  if (change.kind === 'delete-server') return { ...service, servers: service.servers.filter((r) => r !== existing) };
  return { ...service, servers: service.servers.map((r) => (r === existing ? { ...r, weight: change.weight ?? r.weight } : r)) };
}

/** The rules after one change; throws ipvsadm's error and leaves `rules` as it was. */
export function applyChange(rules: BalancerRules, change: RuleChange): BalancerRules {
  switch (change.kind) {
    case 'clear':
      return { ...rules, services: [] };
    case 'set-timeouts': {
      const before = rules.timeouts ?? { tcp: 0, tcpfin: 0, udp: 0 };
      const pick = (wanted: number, old: number) => (wanted === 0 ? old : wanted);
      const timeouts = { tcp: pick(change.timeouts.tcp, before.tcp), tcpfin: pick(change.timeouts.tcpfin, before.tcpfin), udp: pick(change.timeouts.udp, before.udp) };
      return { ...rules, timeouts };
    }
    default:
      if (change.kind !== 'add-service' && change.kind !== 'edit-service' && change.kind !== 'delete-service') {
        findService(rules, change.service, 'Service not defined');
      }
      return { ...rules, services: changeService(rules, change) };
  }
}
