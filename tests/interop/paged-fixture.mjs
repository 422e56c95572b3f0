// A lean MCP server over stdio for the aggregated-endpoint tests, on the official SDK's low-level
// Server: tools and resources only (no prompts, no logging, no listChanged), both lists paginated
// three items a page with an opaque cursor (a cursor it did not make gets -32602), tool names
// that cannot be namespaced validly, and a `seen` tool that tells which methods reached it.
//   node paged-fixture.mjs [--version 2025-03-26]   (answer initialize with this version only)
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import {
  CallToolRequestSchema, ErrorCode, ListResourcesRequestSchema, ListToolsRequestSchema, McpError,
  ListResourceTemplatesRequestSchema, ReadResourceRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';

const PAGE = 3;
const argv = process.argv.slice(2);
const pinned = argv.includes('--version') ? argv[argv.indexOf('--version') + 1] : null;

const schema = { type: 'object', properties: {} };
const TOOLS = [
  ...Array.from({ length: 10 }, (_, i) => `item_${String(i).padStart(2, '0')}`),
  'seen',
  'bad name', // a space: outside A-Z a-z 0-9 _ - .
  'bad/slash',
  'caf\u00e9',
  'x'.repeat(125), // valid alone, 131 characters once namespaced as "paged.<name>"
  'y'.repeat(120), // 126 once namespaced: still valid
].map((name) => ({ name, description: `tool ${name}`, inputSchema: schema }));
const RESOURCES = Array.from({ length: 7 }, (_, i) => ({ uri: `paged://r/${i}`, name: `r${i}`, mimeType: 'text/plain' }));

const seen = [];
const server = new Server({ name: 'paged-fixture', version: '1.0.0' }, { capabilities: { tools: {}, resources: {} } });

if (pinned) { // an older server: it answers with its one version whatever the client asked
  const init = server._oninitialize.bind(server);
  server._oninitialize = async (req) => ({ ...(await init(req)), protocolVersion: pinned });
}

function page(list, cursor) {
  let start = 0;
  if (cursor !== undefined) {
    const m = /^page:(\d+)$/.exec(Buffer.from(String(cursor), 'base64url').toString());
    if (!m || Number(m[1]) >= list.length) throw new McpError(ErrorCode.InvalidParams, `Invalid cursor: ${cursor}`);
    start = Number(m[1]);
  }
  const end = start + PAGE;
  return { items: list.slice(start, end), nextCursor: end < list.length ? Buffer.from(`page:${end}`).toString('base64url') : undefined };
}

server.setRequestHandler(ListToolsRequestSchema, async (req) => {
  const { items, nextCursor } = page(TOOLS, req.params?.cursor);
  return { tools: items, ...(nextCursor ? { nextCursor } : {}) };
});
server.setRequestHandler(ListResourcesRequestSchema, async (req) => {
  const { items, nextCursor } = page(RESOURCES, req.params?.cursor);
  return { resources: items, ...(nextCursor ? { nextCursor } : {}) };
});
server.setRequestHandler(ListResourceTemplatesRequestSchema, async () => ({ resourceTemplates: [] }));
server.setRequestHandler(ReadResourceRequestSchema, async (req) => {
  if (!RESOURCES.some((r) => r.uri === req.params.uri)) throw new McpError(-32002, 'Resource not found');
  return { contents: [{ uri: req.params.uri, text: `content of ${req.params.uri}` }] };
});
server.setRequestHandler(CallToolRequestSchema, async (req) => {
  const { name } = req.params;
  if (!TOOLS.some((t) => t.name === name)) throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${name}`);
  const text = name === 'seen' ? JSON.stringify(seen) : `called ${name}`;
  return { content: [{ type: 'text', text }] };
});

const transport = new StdioServerTransport();
await server.connect(transport);
const deliver = transport.onmessage;
transport.onmessage = (msg, extra) => { // every request method that reached this process
  if (msg.method && msg.id !== undefined) seen.push(msg.method);
  deliver(msg, extra);
};
