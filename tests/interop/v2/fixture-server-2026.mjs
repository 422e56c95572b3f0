// MCP 2026-07-28 conformance fixture: a stateless server on the official
// TypeScript SDK v2 (@modelcontextprotocol/server createMcpHandler, one fresh
// McpServer per HTTP request, mounted on node:http through
// @modelcontextprotocol/node) that implements every fixture tool, resource and
// prompt the @modelcontextprotocol/conformance 0.2.0-alpha.12 server scenarios
// of `--requirements 2026-07-28` ask for, plus the SEP-2243 header tools.
//
// Usage: node fixture-server-2026.mjs [--port N] [--legacy reject|stateless]
// Env:   PORT (when --port is absent), GH_FIXTURE_LEGACY (reject|stateless).
// Listens on 127.0.0.1 only, at /mcp. `--legacy reject` (default) is a pure
// 2026-07-28 server: a 2025-era request (no `_meta` envelope) gets
// UnsupportedProtocolVersion. `--legacy stateless` also serves 2025-era
// clients, statelessly (no sessions), from the same definitions.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { z } from 'zod';
import {
  McpServer,
  ResourceNotFoundError,
  ResourceTemplate,
  completable,
  fromJsonSchema,
  createMcpHandler,
  createRequestStateCodec,
  inputRequired,
  inputResponse,
  acceptedContent,
} from '@modelcontextprotocol/server';
import { localhostHostValidation, localhostOriginValidation, toNodeHandler } from '@modelcontextprotocol/node';

function arg(name) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}
const PORT = Number(arg('--port') ?? process.env.PORT);
const LEGACY = arg('--legacy') ?? process.env.GH_FIXTURE_LEGACY ?? 'reject';
if (!Number.isInteger(PORT) || PORT <= 0 || !['reject', 'stateless'].includes(LEGACY)) {
  console.error('usage: fixture-server-2026.mjs --port N [--legacy reject|stateless]   (or PORT=N)');
  process.exit(2);
}

// 1x1 red PNG and a 1-sample 8 kHz mono WAV: the "minimal test" media the scenarios ask for.
const RED_PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';
const TINY_WAV = (() => {
  const u32 = (n) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    return b;
  };
  const u16 = (n) => {
    const b = Buffer.alloc(2);
    b.writeUInt16LE(n);
    return b;
  };
  return Buffer.concat([
    Buffer.from('RIFF'), u32(37), Buffer.from('WAVEfmt '), u32(16), u16(1), u16(1), u32(8000), u32(8000), u16(1), u16(8),
    Buffer.from('data'), u32(1), Buffer.from([128]),
  ]).toString('base64');
})();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const text = (t) => ({ content: [{ type: 'text', text: t }] });

const JSON_SCHEMA_2020_12 = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  $defs: {
    address: { $anchor: 'addressDef', type: 'object', properties: { street: { type: 'string' }, city: { type: 'string' } } },
  },
  properties: {
    name: { type: 'string' },
    address: { $ref: '#/$defs/address' },
    contactMethod: { type: 'string', enum: ['phone', 'email'] },
    phone: { type: 'string' },
    email: { type: 'string' },
  },
  allOf: [{ anyOf: [{ required: ['phone'] }, { required: ['email'] }] }],
  if: { properties: { contactMethod: { const: 'phone' } }, required: ['contactMethod'] },
  then: { required: ['phone'] },
  else: { required: ['email'] },
  additionalProperties: false,
};

// requestState is attacker-controlled on re-entry: HMAC it (SDK codec), bound to
// the method so state minted for one request kind is refused on another.
const codec = createRequestStateCodec({
  key: randomBytes(32),
  ttlSeconds: 600,
  bind: (ctx) => ctx.mcpReq.method,
});

// Process-wide mutable surface: the per-request servers read it, the trigger
// tools change it and publish list_changed on the listen bus.
const dynamic = { toolGen: 0, promptGen: 0 };
let handler; // set below; the trigger tools publish through handler.notify

/** The client's declared capabilities from the 2026 `_meta` envelope (key spelling tolerant). */
function clientCaps(ctx) {
  const env = ctx.mcpReq.envelope || {};
  return (
    env['io.modelcontextprotocol/clientCapabilities'] ??
    env.clientCapabilities ??
    ctx.mcpReq._meta?.['io.modelcontextprotocol/clientCapabilities'] ??
    {}
  );
}

const nameSchema = z.object({ name: z.string() });
const elicitName = (message) =>
  inputRequired.elicit({
    message,
    requestedSchema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
  });

function registerBasicTools(server) {
  // what a gateway put in _meta (W3C trace context): read back by the gateway's tests
  server.registerTool('trace_meta', { description: 'Returns _meta.traceparent as received' }, async (ctx) =>
    text(JSON.stringify({ traceparent: ctx.mcpReq._meta?.traceparent ?? null })),
  );
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
  server.registerTool('test_error_handling', { description: 'Always fails' }, async () => ({
    isError: true,
    content: [{ type: 'text', text: 'This tool intentionally returns an error for testing' }],
  }));
  server.registerTool('test_tool_with_progress', { description: 'Reports progress 0, 50, 100' }, async (ctx) => {
    const token = ctx.mcpReq._meta?.progressToken;
    for (const [i, progress] of [0, 50, 100].entries()) {
      if (i > 0) await sleep(50);
      if (token !== undefined) {
        await ctx.mcpReq.notify({
          method: 'notifications/progress',
          params: { progressToken: token, progress, total: 100, message: `step ${i + 1}/3` },
        });
      }
    }
    return text('Progress tool completed');
  });
  // The SDK drops notifications/message unless the request's _meta carries a logLevel.
  server.registerTool('test_logging_tool', { description: 'Logs three messages (only with _meta logLevel)' }, async (ctx) => {
    for (const m of ['Tool execution started', 'Tool processing data', 'Tool execution completed']) {
      await ctx.mcpReq.log('info', m);
      await sleep(20);
    }
    return text('Logging tool completed');
  });
}

function registerStatelessProbeTools(server) {
  server.registerTool('test_missing_capability', { description: 'Needs the client sampling capability' }, async (ctx) => {
    const r = inputResponse(ctx.mcpReq.inputResponses, 'probe');
    if (r.kind === 'sampling') return text('client declared sampling and answered');
    // Asking a client that did not declare sampling is refused by the SDK's MRTR seam with -32021.
    return inputRequired({
      inputRequests: {
        probe: inputRequired.createMessage({
          messages: [{ role: 'user', content: { type: 'text', text: 'probe' } }],
          maxTokens: 10,
        }),
      },
    });
  });
  server.registerTool(
    'test_streaming_elicitation',
    { description: 'Streams progress, then asks for input via InputRequiredResult' },
    async (ctx) => {
      const got = acceptedContent(ctx.mcpReq.inputResponses, 'user_name', nameSchema);
      if (got) return text(`Hello, ${got.name}!`);
      await ctx.mcpReq.notify({ method: 'notifications/progress', params: { progressToken: 'stream', progress: 1 } }).catch(() => {});
      return inputRequired({ inputRequests: { user_name: elicitName('What is your name?') } });
    },
  );
  server.registerTool('test_trigger_tool_change', { description: 'Changes the tool list (listen-stream probe)' }, async () => {
    dynamic.toolGen++;
    handler.notify.toolsChanged();
    return text(`tool list generation ${dynamic.toolGen}`);
  });
  server.registerTool('test_trigger_prompt_change', { description: 'Changes the prompt list (listen-stream probe)' }, async () => {
    dynamic.promptGen++;
    handler.notify.promptsChanged();
    return text(`prompt list generation ${dynamic.promptGen}`);
  });
  for (let g = 1; g <= dynamic.toolGen && g <= 32; g++) {
    server.registerTool(`test_dynamic_tool_${g}`, { description: `Added by trigger #${g}` }, async () => text(`dynamic ${g}`));
  }
  // SEP-1613 / SEP-2106: 2020-12 keywords must survive into tools/list unchanged.
  server.registerTool(
    'json_schema_2020_12_tool',
    { description: 'Tool with JSON Schema 2020-12 features', inputSchema: fromJsonSchema(JSON_SCHEMA_2020_12) },
    async (args) => text(`received ${JSON.stringify(args)}`),
  );
  // SEP-2243: a tool whose arguments are mirrored into Mcp-Param-* headers.
  server.registerTool(
    'test_custom_headers',
    {
      description: 'Echoes arguments mirrored into Mcp-Param-Region / Mcp-Param-Priority headers',
      inputSchema: z.object({
        region: z.string().meta({ 'x-mcp-header': 'Region' }),
        priority: z.number().int().optional().meta({ 'x-mcp-header': 'Priority' }),
        query: z.string().optional(),
      }),
    },
    async ({ region, priority, query }) => text(`region=${region} priority=${priority ?? ''} query=${query ?? ''}`),
  );
}

function registerMrtrTools(server) {
  server.registerTool('test_input_required_result_elicitation', { description: 'MRTR: one elicitation' }, async (ctx) => {
    const got = acceptedContent(ctx.mcpReq.inputResponses, 'user_name', nameSchema);
    if (got) return text(`Hello, ${got.name}!`);
    return inputRequired({ inputRequests: { user_name: elicitName('What is your name?') } });
  });
  server.registerTool('test_input_required_result_sampling', { description: 'MRTR: one sampling request' }, async (ctx) => {
    const r = inputResponse(ctx.mcpReq.inputResponses, 'capital_question');
    if (r.kind === 'sampling') {
      const c = r.result.content;
      const t = Array.isArray(c) ? c.map((x) => x.text ?? '').join(' ') : c?.text ?? '';
      return text(`Sampling response: ${t}`);
    }
    return inputRequired({
      inputRequests: {
        capital_question: inputRequired.createMessage({
          messages: [{ role: 'user', content: { type: 'text', text: 'What is the capital of France?' } }],
          maxTokens: 100,
        }),
      },
    });
  });
  server.registerTool('test_input_required_result_list_roots', { description: 'MRTR: roots/list' }, async (ctx) => {
    const r = inputResponse(ctx.mcpReq.inputResponses, 'client_roots');
    if (r.kind === 'roots') return text(`Roots: ${r.roots.map((x) => x.uri).join(', ')}`);
    return inputRequired({ inputRequests: { client_roots: inputRequired.listRoots() } });
  });
  server.registerTool('test_input_required_result_request_state', { description: 'MRTR: requestState round trip' }, async (ctx) => {
    const st = ctx.mcpReq.requestState();
    const ok = acceptedContent(ctx.mcpReq.inputResponses, 'confirm');
    if (st?.step === 'confirm' && ok) return text(`state-ok: confirmed=${ok.ok}`);
    return inputRequired({
      inputRequests: {
        confirm: inputRequired.elicit({
          message: 'Please confirm',
          requestedSchema: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] },
        }),
      },
      requestState: await codec.mint({ step: 'confirm' }, ctx),
    });
  });
  server.registerTool('test_input_required_result_multiple_inputs', { description: 'MRTR: three input kinds at once' }, async (ctx) => {
    const ir = ctx.mcpReq.inputResponses;
    const name = acceptedContent(ir, 'user_name', nameSchema);
    const greet = inputResponse(ir, 'greeting');
    const roots = inputResponse(ir, 'client_roots');
    if (ctx.mcpReq.requestState()?.step === 'multi' && name && greet.kind === 'sampling' && roots.kind === 'roots') {
      return text(`All inputs received: name=${name.name}, roots=${roots.roots.length}`);
    }
    return inputRequired({
      inputRequests: {
        user_name: elicitName('What is your name?'),
        greeting: inputRequired.createMessage({
          messages: [{ role: 'user', content: { type: 'text', text: 'Generate a greeting' } }],
          maxTokens: 50,
        }),
        client_roots: inputRequired.listRoots(),
      },
      requestState: await codec.mint({ step: 'multi' }, ctx),
    });
  });
  server.registerTool('test_input_required_result_multi_round', { description: 'MRTR: two rounds, evolving state' }, async (ctx) => {
    const st = ctx.mcpReq.requestState();
    const ir = ctx.mcpReq.inputResponses;
    if (st?.round === 2) {
      const c = acceptedContent(ir, 'step2', z.object({ color: z.string() }));
      if (c) return text(`Hello ${st.name}, your favorite color is ${c.color}. multi-round complete`);
    }
    if (st?.round === 1 || st?.round === 2) {
      const n = st.round === 2 ? { name: st.name } : acceptedContent(ir, 'step1', nameSchema);
      if (n) {
        return inputRequired({
          inputRequests: {
            step2: inputRequired.elicit({
              message: 'Step 2: What is your favorite color?',
              requestedSchema: { type: 'object', properties: { color: { type: 'string' } }, required: ['color'] },
            }),
          },
          requestState: await codec.mint({ round: 2, name: n.name }, ctx),
        });
      }
    }
    return inputRequired({
      inputRequests: { step1: elicitName('Step 1: What is your name?') },
      requestState: await codec.mint({ round: 1 }, ctx),
    });
  });
  server.registerTool('test_input_required_result_tampered_state', { description: 'MRTR: HMAC-protected state' }, async (ctx) => {
    // A tampered state never reaches here: the codec's verify hook answers -32602 first.
    if (ctx.mcpReq.requestState()?.step === 'sealed') return text('state verified');
    return inputRequired({
      inputRequests: { user_name: elicitName('What is your name?') },
      requestState: await codec.mint({ step: 'sealed' }, ctx),
    });
  });
  server.registerTool('test_input_required_result_capabilities', { description: 'MRTR: only declared input kinds' }, async (ctx) => {
    const caps = clientCaps(ctx);
    const ir = ctx.mcpReq.inputResponses;
    if (ir && Object.keys(ir).length) return text('inputs received');
    const reqs = {};
    if (caps.elicitation) reqs.user_name = elicitName('What is your name?');
    if (caps.sampling) {
      reqs.capital_question = inputRequired.createMessage({
        messages: [{ role: 'user', content: { type: 'text', text: 'What is the capital of France?' } }],
        maxTokens: 100,
      });
    }
    if (caps.roots) reqs.client_roots = inputRequired.listRoots();
    if (!Object.keys(reqs).length) return text('client declared no input capability');
    return inputRequired({ inputRequests: reqs });
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
    { description: 'A resource clients can listen to (resourceSubscriptions)', mimeType: 'text/plain' },
    async (uri) => ({ contents: [{ uri: uri.href, mimeType: 'text/plain', text: 'Watched resource content.' }] }),
  );
  server.registerResource(
    'template-data',
    new ResourceTemplate('test://template/{id}/data', { list: undefined }),
    { description: 'Templated data resource', mimeType: 'application/json' },
    async (uri, { id }) => {
      if (!/^[A-Za-z0-9_-]{1,64}$/.test(String(id))) throw new ResourceNotFoundError(uri.href);
      return {
        contents: [
          {
            uri: uri.href,
            mimeType: 'application/json',
            text: JSON.stringify({ id, templateTest: true, data: `Data for ID: ${id}` }),
          },
        ],
      };
    },
  );
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
      argsSchema: z.object({
        arg1: completable(z.string().describe('First test argument'), (v) => suggestions.filter((s) => s.startsWith(v ?? ''))),
        arg2: z.string().describe('Second test argument'),
      }),
    },
    async ({ arg1, arg2 }) => ({
      messages: [{ role: 'user', content: { type: 'text', text: `Prompt with arguments: arg1='${arg1}', arg2='${arg2}'` } }],
    }),
  );
  server.registerPrompt(
    'test_prompt_with_embedded_resource',
    { description: 'A prompt embedding a resource', argsSchema: z.object({ resourceUri: z.string().describe('URI to embed') }) },
    async ({ resourceUri }) => ({
      messages: [
        {
          role: 'user',
          content: { type: 'resource', resource: { uri: resourceUri, mimeType: 'text/plain', text: 'Embedded resource content for testing.' } },
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
  server.registerPrompt('test_input_required_result_prompt', { description: 'MRTR on prompts/get' }, async (ctx) => {
    const c = acceptedContent(ctx.mcpReq.inputResponses, 'user_context', z.object({ context: z.string() }));
    if (c) return { messages: [{ role: 'user', content: { type: 'text', text: `Prompt context: ${c.context}` } }] };
    return inputRequired({
      inputRequests: {
        user_context: inputRequired.elicit({
          message: 'What context should the prompt use?',
          requestedSchema: { type: 'object', properties: { context: { type: 'string' } }, required: ['context'] },
        }),
      },
    });
  });
  for (let g = 1; g <= dynamic.promptGen && g <= 32; g++) {
    server.registerPrompt(`test_dynamic_prompt_${g}`, { description: `Added by trigger #${g}` }, async () => ({
      messages: [{ role: 'user', content: { type: 'text', text: `dynamic prompt ${g}` } }],
    }));
  }
}

/** One fresh server per HTTP request (the SDK's stateless model). */
function makeServer() {
  const server = new McpServer(
    { name: 'gatehouse-fixture-2026', version: '1.0.0' },
    {
      capabilities: {
        tools: { listChanged: true },
        prompts: { listChanged: true },
        resources: { listChanged: true, subscribe: true },
        completions: {},
        logging: {},
      },
      instructions: 'Gatehouse interop fixture for the MCP 2026-07-28 conformance scenarios.',
      cacheHints: {
        'server/discover': { ttlMs: 60000, cacheScope: 'public' },
        'tools/list': { ttlMs: 0, cacheScope: 'public' },
        'prompts/list': { ttlMs: 0, cacheScope: 'public' },
        'resources/list': { ttlMs: 60000, cacheScope: 'public' },
        'resources/templates/list': { ttlMs: 60000, cacheScope: 'public' },
        'resources/read': { ttlMs: 60000, cacheScope: 'public' },
      },
      requestState: { verify: codec.verify },
    },
  );
  registerBasicTools(server);
  registerStatelessProbeTools(server);
  registerMrtrTools(server);
  registerResources(server);
  registerPrompts(server);
  return server;
}

handler = createMcpHandler(() => makeServer(), {
  legacy: LEGACY,
  onerror: (err) => console.error(`fixture: ${err.message}`),
});
const node = toNodeHandler(handler, { onerror: (err) => console.error(`fixture adapter: ${err.message}`) });
const hostOk = localhostHostValidation();
const originOk = localhostOriginValidation();

const httpServer = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  if (url.pathname !== '/mcp') {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    return;
  }
  // DNS-rebinding protection (the validators answer 403 themselves).
  if (!hostOk(req, res) || !originOk(req, res)) return;
  node(req, res).catch((err) => {
    console.error(`fixture: ${err.stack || err}`);
    if (!res.headersSent) res.writeHead(500).end();
  });
});

httpServer.listen(PORT, '127.0.0.1', () => {
  console.log(`fixture listening on http://127.0.0.1:${PORT}/mcp (2026-07-28, legacy=${LEGACY})`);
});
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    handler.close().finally(() => httpServer.close(() => process.exit(0)));
    setTimeout(() => process.exit(0), 1000).unref();
  });
}
