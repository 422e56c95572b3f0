// Conformance fixture: an MCP server on the official TypeScript SDK (McpServer +
// StreamableHTTPServerTransport, stateful sessions, an event store for
// resumability, DNS-rebinding protection) that implements every fixture tool,
// resource and prompt the @modelcontextprotocol/conformance 0.1.16 server
// scenarios ask for. Listens on 127.0.0.1:$PORT (or --port N) at /mcp; with --stdio it
// serves one session on stdin/stdout instead (StdioServerTransport; stdout carries only
// protocol, every log line goes to stderr).
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { z } from 'zod';
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { completable } from '@modelcontextprotocol/sdk/server/completable.js';
import {
  CreateMessageResultSchema,
  ElicitResultSchema,
  isInitializeRequest,
  LATEST_PROTOCOL_VERSION,
  SUPPORTED_PROTOCOL_VERSIONS,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';

const STDIO = process.argv.includes('--stdio');
if (STDIO) console.log = console.error; // stdout is the protocol channel: nothing else may reach it
const portArg = process.argv.indexOf('--port');
const PORT = Number(portArg > 0 ? process.argv[portArg + 1] : process.env.PORT);
if (!STDIO && (!Number.isInteger(PORT) || PORT <= 0)) {
  console.error('usage: fixture-server.mjs --port N   (or PORT=N) | --stdio');
  process.exit(2);
}
const MAX_BODY = 4 * 1024 * 1024;

// 1x1 red PNG and a 1-sample 8 kHz mono WAV: the "minimal test" media the scenarios ask for.
const RED_PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';
const TINY_WAV = Buffer.concat([
  Buffer.from('RIFF'),
  u32(37),
  Buffer.from('WAVEfmt '),
  u32(16),
  u16(1),
  u16(1),
  u32(8000),
  u32(8000),
  u16(1),
  u16(8),
  Buffer.from('data'),
  u32(1),
  Buffer.from([128]),
]).toString('base64');

function u32(n) {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}
function u16(n) {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Per-stream in-memory event store; ids are `<streamId>_<seq>` so replay can find the stream. */
class EventStore {
  constructor(cap = 10000) {
    this.events = []; // { id, streamId, message }
    this.seq = 0;
    this.cap = cap;
  }
  async storeEvent(streamId, message) {
    const id = `${streamId}_${++this.seq}`;
    this.events.push({ id, streamId, message });
    if (this.events.length > this.cap) this.events.shift();
    return id;
  }
  async replayEventsAfter(lastEventId, { send }) {
    const at = this.events.findIndex((e) => e.id === lastEventId);
    if (at < 0) return lastEventId.slice(0, lastEventId.lastIndexOf('_'));
    const { streamId } = this.events[at];
    for (const e of this.events.slice(at + 1)) {
      if (e.streamId !== streamId) continue;
      if (e.message && Object.keys(e.message).length === 0) continue; // priming event
      await send(e.id, e.message);
    }
    return streamId;
  }
}

function buildServer() {
  const server = new McpServer(
    { name: 'gatehouse-conformance-fixture', version: '1.0.0' },
    {
      capabilities: {
        logging: {},
        resources: { subscribe: true, listChanged: true },
        tools: { listChanged: true },
        prompts: { listChanged: true },
        completions: {},
      },
    },
  );
  registerTools(server);
  registerResources(server);
  registerPrompts(server);
  patchJsonSchemaTool(server);
  return server;
}

function registerTools(server) {
  const text = (t) => ({ content: [{ type: 'text', text: t }] });
  server.registerTool('test_simple_text', { description: 'Returns simple text' }, async () =>
    text('This is a simple text response for testing.'),
  );
  server.registerTool('test_image_content', { description: 'Returns a 1x1 PNG image' }, async () => ({
    content: [{ type: 'image', data: RED_PNG, mimeType: 'image/png' }],
  }));
  server.registerTool('test_audio_content', { description: 'Returns a tiny WAV' }, async () => ({
    content: [{ type: 'audio', data: TINY_WAV, mimeType: 'audio/wav' }],
  }));
  server.registerTool('test_embedded_resource', { description: 'Returns an embedded resource' }, async () => ({
    content: [
      {
        type: 'resource',
        resource: { uri: 'test://embedded-resource', mimeType: 'text/plain', text: 'This is an embedded resource content.' },
      },
    ],
  }));
  server.registerTool('test_multiple_content_types', { description: 'Returns text, image and resource' }, async () => ({
    content: [
      { type: 'text', text: 'Multiple content types test:' },
      { type: 'image', data: RED_PNG, mimeType: 'image/png' },
      {
        type: 'resource',
        resource: {
          uri: 'test://mixed-content-resource',
          mimeType: 'application/json',
          text: JSON.stringify({ test: 'data', value: 123 }),
        },
      },
    ],
  }));
  server.registerTool('test_tool_with_logging', { description: 'Sends 3 log notifications' }, async (extra) => {
    const log = (data) =>
      extra.sendNotification({ method: 'notifications/message', params: { level: 'info', logger: 'fixture', data } });
    await log('Tool execution started');
    await sleep(50);
    await log('Tool processing data');
    await sleep(50);
    await log('Tool execution completed');
    return text('Logging tool executed: 3 messages sent');
  });
  server.registerTool('test_error_handling', { description: 'Always fails' }, async () => ({
    isError: true,
    content: [{ type: 'text', text: 'This tool intentionally returns an error for testing' }],
  }));
  server.registerTool('test_tool_with_progress', { description: 'Reports progress 0, 50, 100' }, async (extra) => {
    const token = extra._meta?.progressToken;
    for (const [i, progress] of [0, 50, 100].entries()) {
      if (i > 0) await sleep(50);
      if (token !== undefined) {
        await extra.sendNotification({
          method: 'notifications/progress',
          params: { progressToken: token, progress, total: 100, message: `step ${i + 1}/3` },
        });
      }
    }
    return text('Progress tool completed');
  });
  server.registerTool(
    'test_sampling',
    { description: 'Asks the client to sample an LLM', inputSchema: { prompt: z.string() } },
    async ({ prompt }, extra) => {
      if (!server.server.getClientCapabilities()?.sampling) {
        return { isError: true, content: [{ type: 'text', text: 'client does not support sampling' }] };
      }
      const r = await extra.sendRequest(
        {
          method: 'sampling/createMessage',
          params: { messages: [{ role: 'user', content: { type: 'text', text: prompt } }], maxTokens: 100 },
        },
        CreateMessageResultSchema,
      );
      const out = r.content?.type === 'text' ? r.content.text : JSON.stringify(r.content);
      return text(`LLM response: ${out}`);
    },
  );
  server.registerTool(
    'test_elicitation',
    { description: 'Asks the user for input', inputSchema: { message: z.string() } },
    async ({ message }, extra) => {
      const r = await elicit(server, extra, message, {
        type: 'object',
        properties: {
          username: { type: 'string', description: "User's response" },
          email: { type: 'string', description: "User's email address" },
        },
        required: ['username', 'email'],
      });
      return text(`User response: action=${r.action}, content=${JSON.stringify(r.content ?? {})}`);
    },
  );
  server.registerTool('test_elicitation_sep1034_defaults', { description: 'Elicitation with defaults' }, async (extra) => {
    const r = await elicit(server, extra, 'Please review your information', {
      type: 'object',
      properties: {
        name: { type: 'string', description: 'Name', default: 'John Doe' },
        age: { type: 'integer', description: 'Age', default: 30 },
        score: { type: 'number', description: 'Score', default: 95.5 },
        status: { type: 'string', description: 'Status', enum: ['active', 'inactive', 'pending'], default: 'active' },
        verified: { type: 'boolean', description: 'Verified', default: true },
      },
    });
    return text(`Elicitation completed: action=${r.action}, content=${JSON.stringify(r.content ?? {})}`);
  });
  server.registerTool('test_elicitation_sep1330_enums', { description: 'Elicitation with all enum forms' }, async (extra) => {
    const r = await elicit(server, extra, 'Please choose', {
      type: 'object',
      properties: {
        untitledSingle: { type: 'string', enum: ['option1', 'option2', 'option3'] },
        titledSingle: {
          type: 'string',
          oneOf: [
            { const: 'value1', title: 'First Option' },
            { const: 'value2', title: 'Second Option' },
            { const: 'value3', title: 'Third Option' },
          ],
        },
        legacyEnum: {
          type: 'string',
          enum: ['opt1', 'opt2', 'opt3'],
          enumNames: ['Option One', 'Option Two', 'Option Three'],
        },
        untitledMulti: { type: 'array', items: { type: 'string', enum: ['option1', 'option2', 'option3'] } },
        titledMulti: {
          type: 'array',
          items: {
            anyOf: [
              { const: 'value1', title: 'First Choice' },
              { const: 'value2', title: 'Second Choice' },
              { const: 'value3', title: 'Third Choice' },
            ],
          },
        },
      },
    });
    return text(`Elicitation completed: action=${r.action}, content=${JSON.stringify(r.content ?? {})}`);
  });
  server.registerTool(
    'json_schema_2020_12_tool',
    {
      description: 'Tool with JSON Schema 2020-12 features',
      inputSchema: { name: z.string().optional(), address: z.object({ street: z.string(), city: z.string() }).partial().optional() },
    },
    async (args) => text(`Received: ${JSON.stringify(args)}`),
  );
  server.registerTool('test_reconnection', { description: 'Closes its SSE stream mid-call (SEP-1699)' }, async (extra) => {
    // closeSSEStream exists only with an event store and a >= 2025-11-25 client.
    if (extra.closeSSEStream) {
      await sleep(100);
      extra.closeSSEStream();
      await sleep(600);
    } else {
      await sleep(100);
    }
    return text('Reconnection test completed');
  });
}

async function elicit(server, extra, message, requestedSchema) {
  if (!server.server.getClientCapabilities()?.elicitation) {
    throw new Error('client does not support elicitation');
  }
  return extra.sendRequest({ method: 'elicitation/create', params: { message, requestedSchema } }, ElicitResultSchema);
}

// The SDK derives inputSchema from zod as draft-07; the json-schema-2020-12
// scenario needs $schema/$defs/additionalProperties exactly, so that one
// tool's listing is rewritten (calls still validate with the zod shape).
function patchJsonSchemaTool(server) {
  const handlers = server.server._requestHandlers;
  const orig = handlers?.get('tools/list');
  if (!orig) throw new Error('SDK internals changed: no tools/list handler to wrap');
  handlers.set('tools/list', async (request, extra) => {
    const result = await orig(request, extra);
    for (const t of result.tools) {
      if (t.name !== 'json_schema_2020_12_tool') continue;
      t.inputSchema = {
        $schema: 'https://json-schema.org/draft/2020-12/schema',
        type: 'object',
        $defs: {
          address: { type: 'object', properties: { street: { type: 'string' }, city: { type: 'string' } } },
        },
        properties: { name: { type: 'string' }, address: { $ref: '#/$defs/address' } },
        additionalProperties: false,
      };
    }
    return result;
  });
}

function registerResources(server) {
  server.registerResource(
    'static-text',
    'test://static-text',
    { description: 'A static text resource', mimeType: 'text/plain' },
    async (uri) => ({
      contents: [{ uri: uri.href, mimeType: 'text/plain', text: 'This is the content of the static text resource.' }],
    }),
  );
  server.registerResource(
    'static-binary',
    'test://static-binary',
    { description: 'A static PNG', mimeType: 'image/png' },
    async (uri) => ({ contents: [{ uri: uri.href, mimeType: 'image/png', blob: RED_PNG }] }),
  );
  server.registerResource(
    'watched-resource',
    'test://watched-resource',
    { description: 'A resource that can be subscribed to', mimeType: 'text/plain' },
    async (uri) => ({ contents: [{ uri: uri.href, mimeType: 'text/plain', text: 'Watched resource content.' }] }),
  );
  server.registerResource(
    'template-data',
    new ResourceTemplate('test://template/{id}/data', { list: undefined }),
    { description: 'Templated data resource', mimeType: 'application/json' },
    async (uri, { id }) => ({
      contents: [
        {
          uri: uri.href,
          mimeType: 'application/json',
          text: JSON.stringify({ id, templateTest: true, data: `Data for ID: ${id}` }),
        },
      ],
    }),
  );
  const subscriptions = new Set();
  server.server.setRequestHandler(SubscribeRequestSchema, async (req) => {
    subscriptions.add(req.params.uri);
    return {};
  });
  server.server.setRequestHandler(UnsubscribeRequestSchema, async (req) => {
    subscriptions.delete(req.params.uri);
    return {};
  });
}

function registerPrompts(server) {
  server.registerPrompt('test_simple_prompt', { description: 'A simple prompt without arguments' }, async () => ({
    messages: [{ role: 'user', content: { type: 'text', text: 'This is a simple prompt for testing.' } }],
  }));
  const suggestions = ['paris', 'park', 'party', 'test', 'testing', 'tested'];
  server.registerPrompt(
    'test_prompt_with_arguments',
    {
      description: 'A prompt with two required arguments',
      argsSchema: {
        arg1: completable(z.string().describe('First test argument'), (v) => suggestions.filter((s) => s.startsWith(v ?? ''))),
        arg2: z.string().describe('Second test argument'),
      },
    },
    async ({ arg1, arg2 }) => ({
      messages: [{ role: 'user', content: { type: 'text', text: `Prompt with arguments: arg1='${arg1}', arg2='${arg2}'` } }],
    }),
  );
  server.registerPrompt(
    'test_prompt_with_embedded_resource',
    { description: 'A prompt embedding a resource', argsSchema: { resourceUri: z.string().describe('URI to embed') } },
    async ({ resourceUri }) => ({
      messages: [
        {
          role: 'user',
          content: {
            type: 'resource',
            resource: { uri: resourceUri, mimeType: 'text/plain', text: 'Embedded resource content for testing.' },
          },
        },
        { role: 'user', content: { type: 'text', text: 'Please process the embedded resource above.' } },
      ],
    }),
  );
  server.registerPrompt('test_prompt_with_image', { description: 'A prompt with an image' }, async () => ({
    messages: [
      { role: 'user', content: { type: 'image', data: RED_PNG, mimeType: 'image/png' } },
      { role: 'user', content: { type: 'text', text: 'Please analyze the image above.' } },
    ],
  }));
}

// ---- HTTP front: session routing (spec status codes) in front of the SDK transport.
const sessions = new Map(); // sessionId -> { transport, server }

function jsonError(res, status, code, message, id = null) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id }));
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let n = 0;
    req.on('data', (c) => {
      n += c.length;
      if (n > MAX_BODY) {
        reject(Object.assign(new Error('body too large'), { status: 413 }));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

// The conformance harness's raw SEP-1699 requests carry MCP-Protocol-Version
// 2025-03-26 inside a session negotiated at 2025-11-25; the SDK transport then
// skips priming events and closeSSEStream. Treat a valid older header inside a
// newer session as the negotiated version so the fixture really exercises
// server-side stream close + Last-Event-ID resume (what the gateway must relay).
function upgradeStaleVersionHeader(req, session) {
  const v = req.headers['mcp-protocol-version'];
  if (!v || !SUPPORTED_PROTOCOL_VERSIONS.includes(v) || v >= session.protocolVersion) return;
  req.headers['mcp-protocol-version'] = session.protocolVersion;
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i].toLowerCase() === 'mcp-protocol-version') req.rawHeaders[i + 1] = session.protocolVersion;
  }
}

async function newSession(protocolVersion) {
  const server = buildServer();
  const transport = new StreamableHTTPServerTransport({
    sessionIdGenerator: () => randomUUID(),
    eventStore: new EventStore(),
    retryInterval: 500,
    enableDnsRebindingProtection: true,
    allowedHosts: [`127.0.0.1:${PORT}`, `localhost:${PORT}`],
    onsessioninitialized: (sid) => {
      sessions.set(sid, { transport, server, protocolVersion });
      console.log(`session initialized ${sid}`);
    },
    onsessionclosed: (sid) => {
      sessions.delete(sid);
      console.log(`session closed ${sid}`);
    },
  });
  transport.onclose = () => {
    if (transport.sessionId) sessions.delete(transport.sessionId);
  };
  await server.connect(transport);
  return transport;
}

async function handle(req, res) {
  const url = new URL(req.url, 'http://127.0.0.1');
  if (url.pathname !== '/mcp') return jsonError(res, 404, -32000, 'Not found');
  const sid = req.headers['mcp-session-id'];
  const known = sid ? sessions.get(sid) : undefined;
  if (req.method === 'POST') {
    let body;
    try {
      body = JSON.parse(await readBody(req));
    } catch (err) {
      if (err.status === 413) return jsonError(res, 413, -32600, 'Request body too large');
      return jsonError(res, 400, -32700, 'Parse error');
    }
    if (known) {
      upgradeStaleVersionHeader(req, known);
      return known.transport.handleRequest(req, res, body);
    }
    if (sid) return jsonError(res, 404, -32001, 'Session not found');
    const msgs = Array.isArray(body) ? body : [body];
    if (!msgs.some((m) => isInitializeRequest(m))) {
      return jsonError(res, 400, -32000, 'Bad Request: No valid session ID provided');
    }
    const init = msgs.find((m) => isInitializeRequest(m));
    const negotiated = SUPPORTED_PROTOCOL_VERSIONS.includes(init.params.protocolVersion)
      ? init.params.protocolVersion
      : LATEST_PROTOCOL_VERSION;
    const transport = await newSession(negotiated);
    return transport.handleRequest(req, res, body);
  }
  if (req.method === 'GET' || req.method === 'DELETE') {
    const lei = req.headers['last-event-id'];
    console.log(`${req.method} session=${sid ?? '-'}${lei ? ` last-event-id=${lei}` : ''}`);
    if (!sid) return jsonError(res, 400, -32000, 'Bad Request: Mcp-Session-Id header is required');
    if (!known) return jsonError(res, 404, -32001, 'Session not found');
    upgradeStaleVersionHeader(req, known);
    return known.transport.handleRequest(req, res);
  }
  res.writeHead(405, { allow: 'GET, POST, DELETE' }).end();
}

/** Stdio mode: one server, one session, for as long as stdin is open. */
async function serveStdio() {
  const server = buildServer();
  const transport = new StdioServerTransport();
  transport.onclose = () => process.exit(0);
  process.stdin.on('end', () => process.exit(0));
  await server.connect(transport);
  console.error(`fixture serving stdio (pid ${process.pid})`);
  const bye = () => process.exit(0);
  process.on('SIGTERM', bye);
  process.on('SIGINT', bye);
}

function serveHttp() {
  const httpServer = http.createServer((req, res) => {
    handle(req, res).catch((err) => {
      console.error('request failed:', err);
      if (!res.headersSent) jsonError(res, 500, -32603, 'Internal error');
      else res.end();
    });
  });
  httpServer.listen(PORT, '127.0.0.1', () => {
    console.log(`fixture listening on http://127.0.0.1:${PORT}/mcp`);
  });

  async function shutdown() {
    for (const { transport } of sessions.values()) {
      try {
        await transport.close();
      } catch {
        /* ignore */
      }
    }
    httpServer.close();
    httpServer.closeAllConnections?.();
    process.exit(0);
  }
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

if (STDIO) await serveStdio();
else serveHttp();
