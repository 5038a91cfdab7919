// The demo's L7 part (issue 14): a client's HTTP requests go through its mesh connection to the L7
// gateway (HAProxy in the gateway's pod), which splits them 80/20 over its own mesh connections to
// two HTTP backends; then HAProxy's per-route, per-backend counters from its stats socket.
import { httpLoad, L7_SERVICE, l7Counters, startL7 } from '../../sdk/tools/sandbox/l7.js';
import type { Sandbox } from '../../sdk/tools/sandbox/sandbox.js';

export const DEMO_ROUTES = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: shop}
spec:
  rules:
    - matches: [{path: {type: PathPrefix, value: /shop}}]
      backendRefs:
        - {name: web-v1, port: 8080, weight: 80}
        - {name: web-v2, port: 8080, weight: 20}
      timeouts: {request: 2s}
      retry: {codes: [502, 503], attempts: 2}
`;

export async function demoL7(sb: Sandbox, say: (line?: string) => void): Promise<void> {
  say();
  say('L7 gateway: client -> mesh -> l7-gateway (HAProxy) -> mesh -> web-v1 / web-v2 (HTTP :8080)');
  const l7 = await startL7(sb, DEMO_ROUTES, [{ service: 'web-v1' }, { service: 'web-v2' }]);
  say(`  gateway pod     : ${l7.gateway.netns}, serves "${L7_SERVICE}", HAProxy on ${l7.gatewayIP}:80`);
  say(`  routes          : ${l7.routesFile} (Gateway API HTTPRoute; edit it and HAProxy reloads)`);
  for (const line of DEMO_ROUTES.split('\n').filter((l) => l.startsWith('  ')))
    say(`                    ${line}`);
  const r = await httpLoad(l7.client, [
    '--url',
    `http://${l7.gatewayIP}/shop/cart`,
    '--count',
    '200',
    '--concurrency',
    '4',
  ]);
  say(
    `  200 x GET http://${l7.gatewayIP}/shop/cart from ${l7.client.netns}: ${JSON.stringify(r.statuses)}, ` +
      `split ${JSON.stringify(r.backends)}, p50 ${r.p50Ms.toFixed(2)} ms`,
  );
  say(`  HAProxy counters (show stat on ${l7.statsSocket}):`);
  for (const c of await l7Counters(l7))
    say(
      `    route rule ${c.rule.padEnd(8)} ${c.backend.padEnd(8)} requests ${String(c.requests).padStart(4)}  retries ${c.retries}`,
    );
}
