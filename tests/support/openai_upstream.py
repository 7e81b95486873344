#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A scripted stand-in for an OpenAI-compatible model server (vLLM's /v1 wire format), for the
inference door's tests and benchmark: no model server can run here. It answers
/v1/chat/completions, /v1/completions and /v1/embeddings the way vLLM does (plain JSON with
`usage`; streams as SSE over chunked transfer coding, one chunk per token, the usage chunk with
empty `choices` when stream_options.include_usage is set, then `data: [DONE]`).

What it does is chosen by the last message's text (or the prompt), so a test can script it:
  "say N"      answer N tokens ("tok0 tok1 …"; capped by max_tokens)     default 5
  "slow"       25 ms between stream chunks ("slow N": N ms)
  "hang"       read the request, never answer
  "die"        stream 3 chunks, then close the connection without ending the body
  "garbage"    answer bytes that are not HTTP, then close
  "busy"       429 with OpenAI's error body (the model server is full)
  "badheader"  a stream whose X-Request-Id holds a bare CR
  "closeafter" the whole stream, then close the connection at once
Usage it reports: prompt_tokens = 7 + the words of every message (not Sluice's estimate, on purpose:
the test checks that the upstream's count is what gets charged), completion_tokens = tokens sent.

GET /_stats answers {"requests": n, "aborted": n, "lastBody": {...}, "lastAuthorization": "…"|null}: "aborted" counts streams whose
client (Sluice) left before their end. Usage: openai_upstream.py PORT  (binds 127.0.0.1).
"""
import base64
import json
import re
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STATS = {"requests": 0, "aborted": 0, "lastBody": None, "inFlight": 0}
LOCK = threading.Lock()


def text_of(body):
    if "messages" in body:
        last = body["messages"][-1].get("content", "")
        if isinstance(last, list):
            last = " ".join(p.get("text", "") for p in last if isinstance(p, dict))
        return last or ""
    prompt = body.get("prompt", body.get("input", ""))
    return prompt if isinstance(prompt, str) else json.dumps(prompt)


def prompt_tokens(body):
    words = 0
    for m in body.get("messages", []):
        c = m.get("content", "")
        if isinstance(c, list):
            c = " ".join(p.get("text", "") for p in c if isinstance(p, dict))
        words += len(str(c).split())
    if "prompt" in body:
        words += len(str(body["prompt"]).split())
    if "input" in body:
        inp = body["input"]
        words += sum(len(str(x).split()) for x in inp) if isinstance(inp, list) else len(str(inp).split())
    return 7 + words


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # (else each answer waits for a delayed ACK: 40 ms)

    def log_message(self, *args):
        pass

    def send_json(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Request-Id", "upstream-req-1")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/_stats":
            with LOCK:
                self.send_json(200, dict(STATS))
        elif self.path == "/v1/models":
            self.send_json(200, {"object": "list", "data": []})
        else:
            self.send_json(404, {"error": {"message": "no such path"}})

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        with LOCK:
            STATS["requests"] += 1
            STATS["lastBody"] = body
            STATS["lastAuthorization"] = self.headers.get("Authorization")
            STATS["inFlight"] += 1
        try:
            self.answer(body)
        finally:
            with LOCK:
                STATS["inFlight"] -= 1

    def answer(self, body):
        text = text_of(body)
        model = body.get("model", "m")
        if "hang" in text:
            time.sleep(30)
            return
        if "garbage" in text:
            self.wfile.write(b"THIS IS NOT HTTP\r\n\r\n")
            self.wfile.flush()
            self.close_connection = True
            return
        if "busy" in text:
            self.send_json(429, {"error": {"message": "the model server is full", "type": "rate_limit_exceeded", "code": None}})
            return
        m = re.search(r"say (\d+)", text)
        n = int(m.group(1)) if m else 5
        cap = body.get("max_completion_tokens") or body.get("max_tokens")
        if cap:
            n = min(n, int(cap))
        slow = re.search(r"slow(?: (\d+))?", text)
        delay = (int(slow.group(1)) if slow and slow.group(1) else 25) / 1000.0 if slow else 0
        prompt = prompt_tokens(body)
        usage = {"prompt_tokens": prompt, "completion_tokens": n, "total_tokens": prompt + n}
        path = self.path
        if path == "/v1/embeddings":
            inputs = body.get("input")
            count = len(inputs) if isinstance(inputs, list) else 1
            vector = [0.1, 0.2, 0.3]
            if body.get("encoding_format") == "base64":  # (what the openai SDK asks for by default)
                vector = base64.b64encode(struct.pack("<3f", *vector)).decode()
            self.send_json(200, {"object": "list", "model": model,
                                 "data": [{"object": "embedding", "index": i, "embedding": vector} for i in range(count)],
                                 "usage": {"prompt_tokens": prompt, "total_tokens": prompt}})
            return
        chat = path == "/v1/chat/completions"
        words = " ".join("tok%d" % i for i in range(n))
        if not body.get("stream"):
            choice = ({"index": 0, "message": {"role": "assistant", "content": words}, "finish_reason": "stop"} if chat
                      else {"index": 0, "text": words, "finish_reason": "stop"})
            self.send_json(200, {"id": "cmpl-1", "object": "chat.completion" if chat else "text_completion",
                                 "created": int(time.time()), "model": model, "choices": [choice], "usage": usage})
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        # "badheader": a header value with a bare CR (a proxy must not pass it on as a line of its own)
        self.send_header("X-Request-Id", "upstream-req-1\rInjected: yes" if "badheader" in text else "upstream-req-1")
        self.end_headers()
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        obj = "chat.completion.chunk" if chat else "text_completion"
        try:
            for i in range(n):
                if "die" in text and i == 3:
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                piece = ("tok%d" % i) if i == 0 else (" tok%d" % i)
                choice = ({"index": 0, "delta": {"content": piece}, "finish_reason": None} if chat
                          else {"index": 0, "text": piece, "finish_reason": None})
                event = {"id": "cmpl-1", "object": obj, "created": 0, "model": model, "choices": [choice]}
                if include_usage:
                    event["usage"] = None
                self.chunk(b"data: " + json.dumps(event).encode() + b"\n\n")
                if delay:
                    time.sleep(delay)
            if include_usage:
                event = {"id": "cmpl-1", "object": obj, "created": 0, "model": model, "choices": [], "usage": usage}
                self.chunk(b"data: " + json.dumps(event).encode() + b"\n\n")
            self.chunk(b"data: [DONE]\n\n")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
            if "closeafter" in text:  # the whole answer, then the connection closed (as uvicorn closes an idle one)
                self.close_connection = True
                self.connection.shutdown(1)
        except (BrokenPipeError, ConnectionResetError):
            with LOCK:
                STATS["aborted"] += 1
            self.close_connection = True


def main():
    port = int(sys.argv[1])
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    print("listening", port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
