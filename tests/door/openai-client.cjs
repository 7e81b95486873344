// SPDX-License-Identifier: Apache-2.0
// The official OpenAI client (npm `openai`, the version scripts/lib/openai-sdk.sh pins) as a caller of
// Sluice's inference door, for tst_inferencedoor. One call per run, described by a JSON argument:
//   {"baseURL": "http://127.0.0.1:PORT/v1", "apiKey": "…", "op": "chat" | "chatStream" | "completion" |
//    "completionStream" | "embedding" | "models", "params": {…the request…},
//    "abortAfterChunks": n (streams: leave after n chunks), "holdMs": ms (streams: pause after the first chunk)}
// Prints one JSON line: {"ok": true, "result": …, "headers": {…}, "chunks": [...]} or
// {"ok": false, "errorClass": "RateLimitError", "status": 429, "message": "…", "headers": {…}}.
const OpenAI = require('openai'); // (found through NODE_PATH: scripts/lib/openai-sdk.sh's directory)

const spec = JSON.parse(process.argv[2]);
const client = new OpenAI({ apiKey: spec.apiKey, baseURL: spec.baseURL, maxRetries: 0, timeout: 20000 });
const pick = (h) => {
  const out = {};
  if (!h) return out;
  const entries = typeof h.entries === 'function' ? h.entries() : Object.entries(h);
  for (const [k, v] of entries) if (k.startsWith('x-ratelimit') || k.startsWith('ratelimit') || k === 'retry-after' || k.startsWith('x-sluice') || k === 'x-request-id') out[k] = v;
  return out;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function run() {
  const p = spec.params || {};
  switch (spec.op) {
  case 'models': {
    const list = await client.models.list();
    return { result: list.data.map((m) => m.id) };
  }
  case 'chat': case 'completion': case 'embedding': {
    const api = spec.op === 'chat' ? client.chat.completions : spec.op === 'completion' ? client.completions : client.embeddings;
    const { data, response } = await api.create(p).withResponse();
    return { result: data, headers: pick(response.headers) };
  }
  case 'chatStream': case 'completionStream': {
    const api = spec.op === 'chatStream' ? client.chat.completions : client.completions;
    const { data: stream, response } = await api.create({ ...p, stream: true }).withResponse();
    const chunks = [];
    let text = '';
    for await (const chunk of stream) {
      chunks.push(chunk);
      const c = chunk.choices && chunk.choices[0];
      if (c) text += (c.delta && c.delta.content) || c.text || '';
      if (chunks.length === 1 && spec.holdMs) {
        console.log(JSON.stringify({ event: 'firstChunk' }));
        await sleep(spec.holdMs);
      }
      if (spec.abortAfterChunks && chunks.length >= spec.abortAfterChunks) {
        stream.controller.abort();
        break;
      }
    }
    return { result: { text, chunks: chunks.length, last: chunks[chunks.length - 1] || null }, headers: pick(response.headers) };
  }
  default:
    throw new Error('unknown op ' + spec.op);
  }
}

run().then((out) => console.log(JSON.stringify({ ok: true, ...out })), (e) => {
  console.log(JSON.stringify({ ok: false, errorClass: e.constructor ? e.constructor.name : String(e), status: e.status ?? null,
    message: e.message, error: e.error ?? null, headers: pick(e.headers) }));
});
