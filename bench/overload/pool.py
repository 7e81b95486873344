#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A simulated GPU pool for bench/overload: a stand-in for a vLLM server (no model server can run
here), speaking enough of its wire format and metric names for Sluice and Prometheus.

- POST /v1/completions {"model", "max_tokens", ...}: waits in a FIFO queue for one of --slots slots,
  holds the slot for max_tokens x --ms-per-token (the "generation"), then answers with OpenAI's
  completion shape, its usage, and how long it waited ("sim": {"queue_wait_ms", "service_ms"}).
  A request whose client went away is dropped at once, waiting or running (vLLM aborts it).
- GET /metrics: vllm:num_requests_waiting, vllm:num_requests_running and vllm:kv_cache_usage_perc
  (tokens held by running requests / (slots x --kv-tokens-per-slot)), labelled model_name.
- GET /stats: JSON for the bench: waiting, running, served, aborted, and busy slot-seconds so far.

Standard library only. Usage: pool.py --port N [--slots 32] [--ms-per-token 25] [--model sim-model]
"""
import argparse
import asyncio
import collections
import json
import time


class Pool:
    def __init__(self, slots, ms_per_token, kv_tokens_per_slot):
        self.slots = slots
        self.ms_per_token = ms_per_token
        self.kv_capacity = slots * kv_tokens_per_slot
        self.waiting = collections.deque()  # (future, reader, enqueued)
        self.running = 0
        self.running_tokens = 0
        self.served = 0
        self.aborted = 0
        self.busy = 0.0  # slot-seconds
        self.last = time.monotonic()

    def _account(self):
        now = time.monotonic()
        self.busy += self.running * (now - self.last)
        self.last = now

    async def generate(self, reader, tokens):
        """Waits for a slot, holds it for the generation; None when the caller left first (as vLLM
        aborts a request whose connection closed, waiting or running)."""
        enqueued = time.monotonic()
        gone = asyncio.ensure_future(reader.read(1))  # b"" when the caller closes (one request per connection)
        try:
            if self.running >= self.slots or self.waiting:
                turn = asyncio.get_running_loop().create_future()
                self.waiting.append((turn, reader, enqueued))
                await asyncio.wait([turn, gone], return_when=asyncio.FIRST_COMPLETED)
                if not turn.done():  # left while waiting: out of the queue now, not when its turn comes
                    turn.cancel()
                    self.waiting = collections.deque(w for w in self.waiting if w[0] is not turn)
                    self.aborted += 1
                    return None
                # a slot was handed over: self.running already counts this request
            else:
                self._account()
                self.running += 1
            started = time.monotonic()
            self.running_tokens += tokens
            try:
                sleep = asyncio.ensure_future(asyncio.sleep(tokens * self.ms_per_token / 1000.0))
                await asyncio.wait([sleep, gone], return_when=asyncio.FIRST_COMPLETED)
                finished = sleep.done()
                if not finished:
                    sleep.cancel()
            finally:
                self.running_tokens -= tokens
                self._account()
                self.running -= 1
                self._hand_over()
            if not finished:
                self.aborted += 1
                return None
            self.served += 1
            return (started - enqueued) * 1000.0, (time.monotonic() - started) * 1000.0
        finally:
            if not gone.done():
                gone.cancel()

    def _hand_over(self):
        while self.waiting and self.running < self.slots:
            turn, _, _ = self.waiting.popleft()
            if turn.done():
                continue
            self._account()
            self.running += 1
            turn.set_result(None)

    def metrics(self, model):
        label = '{model_name="%s"}' % model
        kv = self.running_tokens / self.kv_capacity if self.kv_capacity else 0.0
        return ("# TYPE vllm:num_requests_waiting gauge\nvllm:num_requests_waiting%s %d\n"
                "# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running%s %d\n"
                "# TYPE vllm:kv_cache_usage_perc gauge\nvllm:kv_cache_usage_perc%s %.4f\n"
                % (label, len(self.waiting), label, self.running, label, kv))

    def stats(self):
        self._account()
        return {"waiting": len(self.waiting), "running": self.running, "served": self.served,
                "aborted": self.aborted, "busySlotSeconds": self.busy, "slots": self.slots}


async def read_request(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return method, path, headers, body


def answer(writer, status, body, content_type="application/json"):
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}.get(status, "Error")
    writer.write(b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
                 % (status, reason.encode(), content_type.encode(), len(body)) + body)


async def serve(pool, model, reader, writer):
    try:
        while True:
            try:
                method, path, _, body = await read_request(reader)
            except (asyncio.IncompleteReadError, ConnectionError, ValueError):
                return
            if method == "GET" and path == "/metrics":
                answer(writer, 200, pool.metrics(model).encode(), "text/plain; version=0.0.4")
            elif method == "GET" and path == "/stats":
                answer(writer, 200, json.dumps(pool.stats()).encode())
            elif method == "POST" and path == "/v1/completions":
                try:
                    request = json.loads(body)
                    tokens = int(request.get("max_tokens", 16))
                    if tokens < 1:
                        raise ValueError
                except (ValueError, TypeError, AttributeError):
                    answer(writer, 400, b'{"error":{"message":"max_tokens must be a positive integer"}}')
                    await writer.drain()
                    continue
                outcome = await pool.generate(reader, tokens)
                if outcome is None:
                    return  # the caller left
                wait_ms, service_ms = outcome
                reply = {"id": "cmpl-sim", "object": "text_completion", "model": model,
                         "choices": [{"index": 0, "text": "x" * 8, "finish_reason": "length"}],
                         "usage": {"prompt_tokens": 8, "completion_tokens": tokens, "total_tokens": tokens + 8},
                         "sim": {"queue_wait_ms": round(wait_ms, 2), "service_ms": round(service_ms, 2)}}
                answer(writer, 200, json.dumps(reply).encode())
            else:
                answer(writer, 404, b'{"error":{"message":"not found"}}')
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--slots", type=int, default=32)
    parser.add_argument("--ms-per-token", type=float, default=25)
    parser.add_argument("--kv-tokens-per-slot", type=int, default=64)
    parser.add_argument("--model", default="sim-model")
    args = parser.parse_args()
    pool = Pool(args.slots, args.ms_per_token, args.kv_tokens_per_slot)
    server = await asyncio.start_server(lambda r, w: serve(pool, args.model, r, w), "127.0.0.1", args.port,
                                        backlog=4096)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
