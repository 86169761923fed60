// Preloaded into the MCP conformance framework (node --import) to put one Authorization header on
// every request it makes: the framework has no option for headers, and a gateway refuses an MCP
// request that carries no credential. Both the framework's MCP client (global fetch) and its raw
// probes (undici's request) go through undici's global dispatcher, so replacing that dispatcher
// reaches them all.
//
// Environment: MCP_CONFORMANCE_DIR is the framework's install directory (undici is resolved from
// its node_modules, as this file lives elsewhere); MCP_CONFORMANCE_AUTHORIZATION is the whole
// header value, e.g. "Bearer x".
import { createRequire } from 'node:module';

const auth = process.env.MCP_CONFORMANCE_AUTHORIZATION;

// Empty means "as the framework sends it": a run straight against the fixture must show that no
// credential reached it, not an empty header.
if (auth) {
  const { Agent, setGlobalDispatcher } = createRequire(process.env.MCP_CONFORMANCE_DIR + '/node_modules/')('undici');
  setGlobalDispatcher(new Agent().compose((dispatch) => (opts, handler) => {
    const given = opts.headers;
    // undici accepts headers as a flat [name, value, ...] array, an iterable of pairs, or an object.
    const headers = Array.isArray(given) ? [...given, 'authorization', auth]
      : given && typeof given[Symbol.iterator] === 'function' ? [...given, ['authorization', auth]]
        : { ...(given || {}), authorization: auth };
    return dispatch({ ...opts, headers }, handler);
  }));
}
