// A small stateful MCP server over stdio, for the gateway's stdio tests: per-process counter,
// its own pid, and a slow tool with progress. Built on the official SDK.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

const server = new McpServer({ name: 'stdio-fixture', version: '1.0.0' }, { capabilities: { logging: {} } });
let count = 0;
server.tool('increment', 'Adds one to this process\'s counter', {}, async () => {
  count += 1;
  return { content: [{ type: 'text', text: String(count) }] };
});
server.tool('pid', 'This process\'s pid', {}, async () => ({ content: [{ type: 'text', text: String(process.pid) }] }));
server.tool('meta', 'The _meta of this call as the server received it', {}, async (_args, extra) => ({
  content: [{ type: 'text', text: JSON.stringify(extra._meta ?? null) }],
}));
server.tool('env', 'This process\'s environment variable names', {}, async () => ({
  content: [{ type: 'text', text: JSON.stringify(Object.keys(process.env).sort()) }],
}));
server.tool('slow', 'Waits, sending progress', { seconds: z.number() }, async ({ seconds }, extra) => {
  const token = extra._meta?.progressToken;
  for (let i = 1; i <= seconds * 4; i++) {
    await new Promise((r) => setTimeout(r, 250));
    if (token !== undefined) {
      await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: i, total: seconds * 4 } });
    }
  }
  return { content: [{ type: 'text', text: 'done' }] };
});
server.tool('add_tool', 'Registers one more tool (the server then says its tool list changed)', {}, async () => {
  const name = `extra_${Date.now()}`;
  server.tool(name, 'Added at run time', {}, async () => ({ content: [{ type: 'text', text: name }] }));
  return { content: [{ type: 'text', text: name }] };
});
server.tool('add_prompt', 'Registers one more prompt (the server then says its prompt list changed)', {}, async () => {
  const name = `extra_prompt_${Date.now()}`;
  server.prompt(name, 'Added at run time', async () => ({ messages: [{ role: 'user', content: { type: 'text', text: name } }] }));
  return { content: [{ type: 'text', text: name }] };
});
server.tool('add_resource', 'Registers one more resource (the server then says its resource list changed)', {}, async () => {
  const uri = `fixture://extra/${Date.now()}`;
  server.resource(uri, uri, { mimeType: 'text/plain' }, async (u) => ({ contents: [{ uri: u.href, text: uri }] }));
  return { content: [{ type: 'text', text: uri }] };
});
server.tool('stderr', 'Writes its text to stderr (which the gateway logs): a hostile-output test', { text: z.string() }, async ({ text }) => {
  process.stderr.write(text);
  return { content: [{ type: 'text', text: 'written' }] };
});
server.resource('fixture-note', 'fixture://note', { mimeType: 'text/plain' }, async (uri) => ({
  contents: [{ uri: uri.href, text: `note from ${process.pid}` }],
}));
server.prompt('fixture_prompt', 'A prompt from the fixture', async () => ({
  messages: [{ role: 'user', content: { type: 'text', text: 'fixture prompt text' } }],
}));
await server.connect(new StdioServerTransport());
