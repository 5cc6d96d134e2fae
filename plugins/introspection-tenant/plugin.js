// Example introspection plugin in JavaScript.
//
// - Adds `tenant` (config `tenant`) to every active introspection response.
// - Reports tokens of the clients listed in config `blocked_clients` (comma-separated) inactive,
//   e.g. while a compromised client is being investigated.
import { config, log } from 'tessera:plugin/host@0.2.0';

function list(key) {
  return (config(key) ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}

export const introspection = {
  introspection(ctx) {
    const response = JSON.parse(ctx.response);
    if (!response.active) {
      return { tag: 'unchanged' };
    }
    if (ctx.token && list('blocked_clients').includes(ctx.token.clientId)) {
      log('warn', `token of blocked client ${ctx.token.clientId} reported inactive`);
      return { tag: 'inactive' };
    }
    const tenant = config('tenant');
    if (tenant === undefined) {
      throw 'config property `tenant` is missing';
    }
    response.tenant = tenant;
    return { tag: 'replace', val: JSON.stringify(response) };
  },
};
