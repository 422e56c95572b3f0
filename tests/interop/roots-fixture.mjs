// Roots fixture: an MCP server on the official TypeScript SDK (McpServer +
// StreamableHTTPServerTransport, stateful sessions) whose tools ask the CLIENT
// for its roots, so a test can see a server-to-client `roots/list` request go out
// through the gateway and the client's answer come back:
//   roots_related     sends roots/list tied to the tool call (rides the POST's SSE answer)
//   roots_standalone  sends roots/list unrelated to any request (rides the GET stream)
//   roots_changes     how many notifications/roots/list_changed this session received
//   seen_version      the MCP-Protocol-Version header of this call, as the upstream saw it
// Listens on 127.0.0.1 --port N at /mcp; logs to stdout ("fixture listening on ...").
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import {
  isInitializeRequest,
  ListRootsResultSchema,
  RootsListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';

const portArg = process.argv.indexOf('--port');
const PORT = Number(portArg > 0 ? process.argv[portArg + 1] : NaN);
if (!Number.isInteger(PORT) || PORT <= 0) {
  console.error('usage: roots-fixture.mjs --port N');
  process.exit(2);
}
// A client that never answers roots/list must not hang a call for the SDK's default 60 s.
const ROOTS_TIMEOUT_MS = 20000;

const sessions = new Map(); // sessionId -> { transport, server, state }

function buildServer(state) {
  const server = new McpServer({ name: 'gatehouse-roots-fixture', version: '1.0.0' }, { capabilities: { tools: {} } });
  const text = (t) => ({ content: [{ type: 'text', text: t }] });
  const needRoots = () => {
    if (!server.server.getClientCapabilities()?.roots) throw new Error('client did not declare the roots capability');
  };
  server.registerTool('roots_related', { description: 'roots/list on the call\'s own stream' }, async (extra) => {
    needRoots();
    const r = await extra.sendRequest({ method: 'roots/list' }, ListRootsResultSchema, { timeout: ROOTS_TIMEOUT_MS });
    return text(JSON.stringify(r.roots));
  });
  server.registerTool('roots_standalone', { description: 'roots/list on the standalone GET stream' }, async () => {
    needRoots();
    const r = await server.server.listRoots(undefined, { timeout: ROOTS_TIMEOUT_MS });
    return text(JSON.stringify(r.roots));
  });
  server.registerTool('roots_changes', { description: 'roots list_changed notifications received' }, async () =>
    text(String(state.rootsChanged)),
  );
  server.registerTool('seen_version', { description: 'MCP-Protocol-Version of this call' }, async () =>
    text(state.lastVersion ?? ''),
  );
  server.server.setNotificationHandler(RootsListChangedNotificationSchema, async () => {
    state.rootsChanged++;
    console.log('notifications/roots/list_changed received');
  });
  return server;
}

function jsonError(res, status, code, message) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }));
}

async function readJson(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

async function newSession() {
  const state = { rootsChanged: 0, lastVersion: null };
  const server = buildServer(state);
  const transport = new StreamableHTTPServerTransport({
    sessionIdGenerator: () => randomUUID(),
    onsessioninitialized: (sid) => {
      sessions.set(sid, { transport, server, state });
      console.log(`session initialized ${sid}`);
    },
    onsessionclosed: (sid) => sessions.delete(sid),
  });
  await server.connect(transport);
  return transport;
}

async function handle(req, res) {
  if (new URL(req.url, 'http://127.0.0.1').pathname !== '/mcp') return jsonError(res, 404, -32000, 'Not found');
  const sid = req.headers['mcp-session-id'];
  const known = sid ? sessions.get(sid) : undefined;
  if (known) known.state.lastVersion = req.headers['mcp-protocol-version'] ?? null;
  console.log(`${req.method} session=${sid ?? '-'} version=${req.headers['mcp-protocol-version'] ?? '-'}`);
  if (req.method === 'POST') {
    let body;
    try {
      body = await readJson(req);
    } catch {
      return jsonError(res, 400, -32700, 'Parse error');
    }
    if (known) return known.transport.handleRequest(req, res, body);
    if (sid) return jsonError(res, 404, -32001, 'Session not found');
    if (!isInitializeRequest(body)) return jsonError(res, 400, -32000, 'Bad Request: No valid session ID provided');
    return (await newSession()).handleRequest(req, res, body);
  }
  if (req.method === 'GET' || req.method === 'DELETE') {
    if (!known) return jsonError(res, sid ? 404 : 400, -32000, 'Bad Request: unknown or missing session');
    return known.transport.handleRequest(req, res);
  }
  res.writeHead(405, { allow: 'GET, POST, DELETE' }).end();
}

const httpServer = http.createServer((req, res) => {
  handle(req, res).catch((err) => {
    console.error('request failed:', err);
    if (!res.headersSent) jsonError(res, 500, -32603, 'Internal error');
    else res.end();
  });
});
httpServer.listen(PORT, '127.0.0.1', () => console.log(`fixture listening on http://127.0.0.1:${PORT}/mcp`));
const shutdown = () => {
  httpServer.close();
  httpServer.closeAllConnections?.();
  process.exit(0);
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
