// An MCP server on the official SDK (stateful Streamable HTTP, SSE answers) whose tools push the
// gateway's limits and timeouts: a slow call (concurrency), an oversized event (sse_event_bytes),
// a stream that goes silent (stream_idle_ms) and a chatty call (sse_replay_bytes). Listens on
// 127.0.0.1:$PORT at /mcp; logs one line per tool start so tests can poll instead of sleeping.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { z } from 'zod';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';

const PORT = Number(process.env.PORT);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const text = (t) => ({ content: [{ type: 'text', text: t }] });
const log = (extra, data) =>
  extra.sendNotification({ method: 'notifications/message', params: { level: 'info', data } });

function buildServer() {
  const server = new McpServer({ name: 'limits-fixture', version: '1.0.0' }, { capabilities: { logging: {} } });
  server.registerTool('slow', { description: 'Answers after ms', inputSchema: { ms: z.number() } }, async ({ ms }) => {
    console.log('tool slow begin');
    await sleep(ms);
    console.log('tool slow end');
    return text(`slept ${ms}`);
  });
  server.registerTool('big', { description: 'One log event of `bytes` bytes, then the answer', inputSchema: { bytes: z.number() } },
    async ({ bytes }, extra) => {
      await log(extra, 'x'.repeat(bytes));
      return text(`sent ${bytes}`);
    });
  server.registerTool('silent', { description: 'One log event, then silence for ms, then the answer', inputSchema: { ms: z.number() } },
    async ({ ms }, extra) => {
      await log(extra, 'going quiet');
      console.log('tool silent quiet');
      await sleep(ms);
      return text('woke up');
    });
  server.registerTool('chatty', { description: '`count` log events of `bytes` bytes, then the answer', inputSchema: { count: z.number(), bytes: z.number() } },
    async ({ count, bytes }, extra) => {
      for (let i = 0; i < count; i++) await log(extra, `${i}:${'y'.repeat(bytes)}`);
      return text(`sent ${count}`);
    });
  return server;
}

const sessions = new Map();

async function handle(req, res) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const raw = Buffer.concat(chunks).toString('utf8');
  const sid = req.headers['mcp-session-id'];
  const known = sid && sessions.get(sid);
  if (known) return known.handleRequest(req, res, raw ? JSON.parse(raw) : undefined);
  if (req.method !== 'POST' || !raw || !isInitializeRequest(JSON.parse(raw))) {
    res.writeHead(sid ? 404 : 400, { 'content-type': 'application/json' });
    return res.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32000, message: 'no such session' } }));
  }
  const transport = new StreamableHTTPServerTransport({
    sessionIdGenerator: () => randomUUID(),
    onsessioninitialized: (id) => sessions.set(id, transport),
    onsessionclosed: (id) => sessions.delete(id),
  });
  await buildServer().connect(transport);
  return transport.handleRequest(req, res, JSON.parse(raw));
}

const srv = http.createServer((req, res) => {
  handle(req, res).catch((err) => {
    console.error('request failed:', err);
    if (!res.headersSent) res.writeHead(500).end();
    else res.end();
  });
});
srv.listen(PORT, '127.0.0.1', () => console.log(`limits fixture listening on ${PORT}`));
const bye = () => process.exit(0);
process.on('SIGTERM', bye);
process.on('SIGINT', bye);
