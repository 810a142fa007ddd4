// kata-network add-route, del-route, update-routes and list-routes inside a running
// pod's vnet. Routes added through the API are recorded with the pod, and del-route is
// the contract's generation-1 fuzzy delete over them (runtime-network-api.md §1.6): dest
// exact, gateway compared only when given, device optional, every match removed.
import type { DeviceRoute, Host, RouteInfo } from '../hosts/host.js';
import type { PodContext } from '../pods/pods.js';
import type { PodRecord, RuntimeRoute } from '../pods/store.js';
import { Teardown } from '../util/teardown.js';
import { checkAddRoute, checkDelRoute, normaliseDest, RuntimeNetError, type Route, type RouteSpec } from './contract.js';
import { lockedPod, networkOwner } from './resolve.js';

/** The contract's `lo` is the host's loopback inside the pod (lo0 on FreeBSD). */
const onHost = (host: Host, route: RuntimeRoute): DeviceRoute => ({
  destination: route.dest,
  device: route.device === 'lo' ? host.loopback : route.device,
  family: route.family,
  ...(route.gateway ? { gateway: route.gateway } : {}),
});

const sameRoute = (a: RuntimeRoute, b: RuntimeRoute) => a.dest === b.dest && a.family === b.family && (a.gateway ?? '') === (b.gateway ?? '') && a.device === b.device;

async function checkDevice(host: Host, record: PodRecord, device: string): Promise<void> {
  const name = device === 'lo' ? host.loopback : device;
  if (!(await host.inspectInterface(name, record.jail))) throw new RuntimeNetError(`device ${device} is not found in pod ${record.name}`);
}

export async function addRoute(ctx: PodContext, id: string, input: Route): Promise<RouteSpec[]> {
  const route = checkAddRoute(input);
  return lockedPod(ctx, id, async (record) => {
    await checkDevice(ctx.host, record, route.device);
    // Generation 1: an exact duplicate (same destination, same gateway) is refused.
    if (record.runtime.routes.some((r) => r.dest === route.dest && r.family === route.family && (r.gateway ?? '') === (route.gateway ?? ''))) {
      throw new RuntimeNetError(`route rule ${route.dest} via ${route.gateway ?? route.device} already exists`);
    }
    await ctx.host.addDeviceRoute(onHost(ctx.host, route), record.jail);
    record.runtime.routes.push(route);
    await ctx.store.write(record);
    return [route];
  });
}

/** Deletes one route; one the kernel already took away (its interface or address gone) counts as deleted. */
async function removeFromHost(host: Host, jail: string, route: RuntimeRoute): Promise<void> {
  try {
    await host.deleteDeviceRoute(onHost(host, route), jail);
  } catch (error) {
    if ((await host.listRoutes(jail)).some((r) => matchesHostRoute(r, route))) throw error;
  }
}

function matchesHostRoute(info: RouteInfo, route: RuntimeRoute): boolean {
  return info.family === route.family && normalisedHostDest(info) === route.dest && (!route.gateway || info.gateway === route.gateway);
}

function normalisedHostDest(info: RouteInfo): string {
  if (info.destination === 'default') return 'default';
  return info.destination.includes('/') ? info.destination : `${info.destination}/${info.family === 6 ? 128 : 32}`;
}

export async function deleteRoute(ctx: PodContext, id: string, input: Route): Promise<RouteSpec[]> {
  const wanted = checkDelRoute(input);
  return lockedPod(ctx, id, async (record) => {
    const matches = record.runtime.routes.filter(
      (r) => r.dest === wanted.dest && (wanted.gateway === undefined || r.gateway === wanted.gateway) && (wanted.device === undefined || r.device === wanted.device),
    );
    if (matches.length === 0) throw new RuntimeNetError(`route of device ${wanted.device ?? ''} with destination ${wanted.dest} is not found`);
    const teardown = new Teardown();
    const removed: RuntimeRoute[] = [];
    for (const route of matches) {
      if (await teardown.step(`route ${route.dest} on ${route.device}`, () => removeFromHost(ctx.host, record.jail, route))) removed.push(route);
    }
    record.runtime.routes = record.runtime.routes.filter((r) => !removed.includes(r));
    await ctx.store.write(record);
    teardown.finish(`del-route ${wanted.dest}`);
    return removed;
  });
}

/** update-routes: the recorded routes become exactly the given ones; a failure puts back what was changed. */
export async function updateRoutes(ctx: PodContext, id: string, input: Route[]): Promise<RouteSpec[]> {
  const desired = input.map(checkAddRoute);
  return lockedPod(ctx, id, async (record) => {
    for (const route of desired) await checkDevice(ctx.host, record, route.device);
    const current = record.runtime.routes;
    const stale = current.filter((r) => !desired.some((d) => sameRoute(d, r)));
    const fresh = desired.filter((d) => !current.some((r) => sameRoute(d, r)));
    const undo: Array<() => Promise<void>> = [];
    try {
      for (const route of stale) {
        await removeFromHost(ctx.host, record.jail, route);
        undo.push(() => ctx.host.addDeviceRoute(onHost(ctx.host, route), record.jail));
      }
      for (const route of fresh) {
        await ctx.host.addDeviceRoute(onHost(ctx.host, route), record.jail);
        undo.push(() => ctx.host.deleteDeviceRoute(onHost(ctx.host, route), record.jail));
      }
    } catch (failure) {
      const teardown = new Teardown();
      for (const step of undo.reverse()) await teardown.step('undo', step);
      teardown.finish('update-routes', failure);
      throw failure;
    }
    record.runtime.routes = desired;
    await ctx.store.write(record);
    return desired;
  });
}

/**
 * list-routes: the pod's routing table as the kernel has it (connected routes included,
 * the addresses' own local entries not), IPv4 as the contract prints it, then IPv6
 * beyond it (link-local and multicast left out).
 */
export async function listRoutes(ctx: PodContext, id: string): Promise<Array<{ dest: string; gateway?: string; device: string }>> {
  const owner = await networkOwner(ctx, id);
  const routes = (await ctx.host.listRoutes(owner.jail)).filter((r) => !isLocalEntry(r) && !/^(fe80:|ff00:|ff02:)/i.test(r.destination));
  const byFamily = [...routes.filter((r) => r.family === 4), ...routes.filter((r) => r.family === 6)];
  return byFamily.map((r) => ({
    dest: normaliseDest(normalisedHostDest(r)).dest,
    ...(r.gateway && !r.gateway.startsWith('link#') ? { gateway: r.gateway } : {}),
    device: r.netif,
  }));
}

/** An address's own entry (FreeBSD: a host route without a gateway, on lo0): the local table, not a route. */
function isLocalEntry(r: RouteInfo): boolean {
  return r.flags.includes('H') && !r.flags.includes('G') && r.gateway.startsWith('link#');
}
