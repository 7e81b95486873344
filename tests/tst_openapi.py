#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# The API document against the real server (issue 12): starts sluice-server (embedded, with an admin
# token, and a second one without) on free loopback ports, reads /openapi.json from it, sends every
# operation's success and its errors, and checks for each answer that
#   - the status is one the document lists for that operation,
#   - a JSON body validates against the document's schema for that status (python3-jsonschema),
#   - every operation of the document was exercised, with a success and an error.
# Usage: tst_openapi.py <sluice-server binary>. Exit 77 (skipped) without python3-jsonschema unless
# SLUICE_TEST_REQUIRE_SERVICES=1.
import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

try:
    import jsonschema
except ImportError:
    print("python3-jsonschema is missing (scripts/test installs it)")
    sys.exit(1 if os.environ.get("SLUICE_TEST_REQUIRE_SERVICES") == "1" else 77)

BINARY = sys.argv[1]
TOKEN = "openapi-test-token"
failures = []
exercised = {}  # (method, template) -> set of statuses seen


def free_port():
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(args):
    # Output to a file, never a pipe nobody reads (a full pipe would stall the server).
    log = tempfile.NamedTemporaryFile(prefix="tst_openapi.", suffix=".log", delete=False)
    p = subprocess.Popen([BINARY, "--port", "0", "--history-flush-seconds", "1"] + args,
                         stdout=log, stderr=subprocess.STDOUT,
                         env={k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")})
    text = ""
    for _ in range(300):
        with open(log.name) as f:
            text = f.read()
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", text)
        if m:
            return p, "http://127.0.0.1:%s" % m.group(1)
        if p.poll() is not None:
            break
        time.sleep(0.05)
    p.kill()
    sys.exit("sluice-server did not start: %s" % text)


def call(base, method, path, body=None, headers=None, content_type="application/json", read_limit=None,
         declare_length=None):
    if declare_length is not None:
        # Headers announcing a body over the limit, and no body: the server answers before reading
        # any (sending megabytes it refuses would race its close: a broken pipe, not an answer).
        u = urllib.parse.urlsplit(base)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
        conn.putrequest(method, path)
        conn.putheader("Content-Type", content_type)
        conn.putheader("Content-Length", str(declare_length))
        conn.endheaders()
        resp = conn.getresponse()
        raw = resp.read()
        conn.close()
        return resp.status, resp.headers.get("Content-Type", ""), raw
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    if data is not None and content_type:
        req.add_header("Content-Type", content_type)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        resp = urllib.request.urlopen(req, timeout=10)
    except urllib.error.HTTPError as e:
        resp = e
    ctype = resp.headers.get("Content-Type", "")
    raw = resp.read(read_limit) if read_limit else resp.read()
    resp.close()
    return resp.status, ctype, raw


# OpenAPI 3.0 schema -> JSON Schema: $ref inlined (ours have no cycles), nullable -> "null" allowed.
def to_json_schema(node, components):
    if isinstance(node, list):
        return [to_json_schema(n, components) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = node["$ref"].split("/")[-1]
        return to_json_schema(components["schemas"][name], components)
    out = {k: to_json_schema(v, components) for k, v in node.items()
           if k not in ("nullable", "readOnly", "writeOnly", "example", "format") and not k.startswith("x-")}
    if node.get("nullable"):
        if "type" not in out or "allOf" in out:  # e.g. {"type": "object", "nullable": true, "allOf": [{"$ref": …}]}
            return {"anyOf": [out, {"type": "null"}]}
        out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = out["enum"] + [None]
    return out


def match_operation(doc, method, path):
    path = urllib.parse.urlsplit(path).path
    for template, item in doc["paths"].items():
        rx = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(rx, path) and method.lower() in item:
            return template, item[method.lower()]
    return None, None


def resolve_response(doc, response):
    if "$ref" in response:
        return doc["components"]["responses"][response["$ref"].split("/")[-1]]
    return response


def check(doc, base, name, method, path, expected, body=None, headers=None, content_type="application/json",
          raw_body=None, read_limit=None, declare_length=None):
    status, ctype, raw = call(base, method, path, raw_body if raw_body is not None else body, headers, content_type,
                              read_limit, declare_length)
    template, op = match_operation(doc, method, path)
    where = "%s (%s %s)" % (name, method, path)
    if op is None:
        failures.append("%s: the document has no such operation" % where)
        return None
    exercised.setdefault((method, template), set()).add(status)
    if status != expected:
        failures.append("%s: status %d, expected %d: %s" % (where, status, expected, raw[:300]))
    documented = op["responses"].get(str(status))
    if documented is None:
        failures.append("%s: status %d is not in the document (it lists %s)" % (where, status, sorted(op["responses"])))
        return None
    documented = resolve_response(doc, documented)
    content = documented.get("content", {})
    if ctype.startswith("text/event-stream"):
        if "text/event-stream" not in content:
            failures.append("%s: an event stream, which the document does not list for %d" % (where, status))
            return None
        print("ok %-44s %d (text/event-stream)" % (name, status))
        return raw
    if "application/json" in content and status != 204:
        if not ctype.startswith("application/json"):
            failures.append("%s: Content-Type %s, the document says application/json" % (where, ctype))
            return None
        value = json.loads(raw)
        schema = to_json_schema(content["application/json"]["schema"], doc["components"])
        errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(value), key=lambda e: list(e.path))
        for e in errors[:3]:
            failures.append("%s: %s at %s" % (where, e.message, "/".join(map(str, e.path)) or "(root)"))
        print("ok %-44s %d %s" % (name, status, "valid" if not errors else "INVALID"))
        return value
    print("ok %-44s %d (%s)" % (name, status, ctype.split(";")[0] or "no body"))
    return raw


def main():
    server, base = start(["--admin-token", TOKEN])
    plain, plain_base = start([])
    try:
        status, _, raw = call(base, "GET", "/openapi.json")
        if status != 200:
            sys.exit("GET /openapi.json: %d" % status)
        doc = json.loads(raw)
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "resources", "openapi.json")) as f:
            if json.load(f) != doc:
                failures.append("/openapi.json served differs from resources/openapi.json")
        admin = {"Authorization": "Bearer " + TOKEN}
        wrong = {"Authorization": "Bearer not-the-token"}
        ask = {"userId": "ent-user-2", "modelId": "gpt-4o", "tenantId": "enterprise_co"}
        key = "sluice:{user_model:ent-user-2:gpt-4o}"
        qkey = urllib.parse.quote(key, safe="")

        # The check and its lifecycle.
        for i in range(10):
            check(doc, base, "check allowed", "POST", "/rate-limit/check", 200, ask)
        check(doc, base, "check blocked (11th of 10/h)", "POST", "/rate-limit/check", 429, ask)
        check(doc, base, "check bad field", "POST", "/rate-limit/check", 400, {"userId": "", "modelId": "m"})
        check(doc, base, "check not JSON", "POST", "/rate-limit/check", 400, raw_body=b"{nope")
        check(doc, base, "check wrong media type", "POST", "/rate-limit/check", 415, raw_body=b"{}",
              content_type="text/plain")
        check(doc, base, "check unknown API key", "POST", "/rate-limit/check", 401,
              {"userId": "u", "modelId": "gpt-4o", "apiKey": "sk_unknown"})
        check(doc, base, "check body too large", "POST", "/rate-limit/check", 413, declare_length=64 << 20)
        decision = check(doc, base, "check tokens (reservation)", "POST", "/rate-limit/check", 200,
                         {"userId": "free-user-1", "modelId": "gpt-4o-mini", "tenantId": "free_co", "cost": 5})
        # Find a reservation: a tokens policy makes one; create one to be sure.
        tokens_policy = {"scope": "USER_MODEL", "userId": "ent-user-1", "modelId": "gpt-4o-mini", "unit": "tokens",
                         "windowSeconds": 60, "limit": 1000}
        created = check(doc, base, "create tokens policy", "POST", "/admin/policies", 201, tokens_policy, admin)
        reservation = None
        if isinstance(created, dict):
            d = check(doc, base, "check with a reservation", "POST", "/rate-limit/check", 200,
                      {"userId": "ent-user-1", "modelId": "gpt-4o-mini", "tenantId": "enterprise_co", "cost": 50})
            reservation = d.get("reservationId") if isinstance(d, dict) else None
        if not reservation:
            failures.append("no reservationId from a check under a tokens policy")
        else:
            check(doc, base, "extend", "POST", "/rate-limit/extend", 200, {"reservationId": reservation})
            check(doc, base, "complete", "POST", "/rate-limit/complete", 200, {"reservationId": reservation, "tokens": 20})
            check(doc, base, "complete again (idempotent)", "POST", "/rate-limit/complete", 200,
                  {"reservationId": reservation, "tokens": 20})
            check(doc, base, "extend after completion", "POST", "/rate-limit/extend", 409, {"reservationId": reservation})
        check(doc, base, "complete unknown", "POST", "/rate-limit/complete", 404, {"reservationId": "nope"})
        check(doc, base, "complete bad body", "POST", "/rate-limit/complete", 400, {"reservationId": 5})
        check(doc, base, "complete wrong media type", "POST", "/rate-limit/complete", 415, raw_body=b"{}",
              content_type="text/plain")
        check(doc, base, "extend unknown", "POST", "/rate-limit/extend", 404, {"reservationId": "nope"})
        check(doc, base, "extend bad body", "POST", "/rate-limit/extend", 400, {})
        check(doc, base, "extend wrong media type", "POST", "/rate-limit/extend", 415, raw_body=b"{}",
              content_type="text/plain")

        # Forward-auth.
        fa = {"X-User-Id": "fa-user", "X-Model-Id": "gpt-4o"}
        check(doc, base, "forward-auth GET allowed", "GET", "/rate-limit/forward-auth", 200, headers=fa)
        check(doc, base, "forward-auth POST allowed", "POST", "/rate-limit/forward-auth", 200, headers=fa,
              raw_body=b"", content_type=None)
        check(doc, base, "forward-auth without identity", "GET", "/rate-limit/forward-auth", 400)
        for name, expected, headers in (("forward-auth HEAD allowed", 200, fa), ("forward-auth HEAD without identity", 400, {})):
            if check(doc, base, name, "HEAD", "/rate-limit/forward-auth", expected, headers=headers) not in (None, b""):
                failures.append("%s: HEAD answered with a body" % name)
        check(doc, base, "forward-auth blocked", "GET", "/rate-limit/forward-auth", 429,
              headers={"X-User-Id": "ent-user-2", "X-Model-Id": "gpt-4o"})
        check(doc, base, "forward-auth POST unknown API key", "POST", "/rate-limit/forward-auth", 401,
              headers={"X-User-Id": "u", "X-Model-Id": "gpt-4o", "X-API-Key": "sk_unknown"}, raw_body=b"",
              content_type=None)

        # Operations.
        check(doc, base, "health", "GET", "/health", 200)
        check(doc, base, "metrics", "GET", "/metrics", 200)
        check(doc, base, "openapi", "GET", "/openapi.json", 200)
        check(doc, base, "docs", "GET", "/docs", 200)
        for path in ("/health", "/metrics", "/openapi.json", "/docs"):
            check(doc, base, "%s bad framing" % path, "GET", path, 400, headers={"Content-Length": "x"})

        # Admin: policies.
        check(doc, base, "list policies", "GET", "/admin/policies", 200, headers=admin)
        check(doc, base, "list policies without token", "GET", "/admin/policies", 401)
        check(doc, base, "list policies wrong token", "GET", "/admin/policies", 401, headers=wrong)
        check(doc, plain_base, "list policies, admin off", "GET", "/admin/policies", 403, headers=admin)
        check(doc, base, "get policy", "GET", "/admin/policies/9", 200, headers=admin)
        check(doc, base, "get unknown policy", "GET", "/admin/policies/999999", 404, headers=admin)
        check(doc, base, "create bad policy", "POST", "/admin/policies", 400, {"scope": "NOPE", "limit": 1}, admin)
        check(doc, base, "create duplicate policy", "POST", "/admin/policies", 409, tokens_policy, admin)
        check(doc, base, "create wrong media type", "POST", "/admin/policies", 415, raw_body=b"{}", headers=admin,
              content_type="text/plain")
        pid = created.get("id") if isinstance(created, dict) else 0
        updated = dict(tokens_policy, limit=2000)
        check(doc, base, "update policy", "PUT", "/admin/policies/%d" % pid, 200, updated, admin)
        check(doc, base, "update bad policy", "PUT", "/admin/policies/%d" % pid, 400, dict(updated, limit=-1), admin)
        check(doc, base, "update unknown policy", "PUT", "/admin/policies/999999", 404, updated, admin)
        check(doc, base, "update to a duplicate", "PUT", "/admin/policies/%d" % pid, 409,
              {"scope": "USER_MODEL", "userId": "ent-user-2", "modelId": "gpt-4o", "windowSeconds": 3600, "limit": 5},
              admin)
        check(doc, base, "update wrong media type", "PUT", "/admin/policies/%d" % pid, 415, raw_body=b"{}",
              headers=admin, content_type="text/plain")
        check(doc, base, "delete policy", "DELETE", "/admin/policies/%d" % pid, 204, headers=admin)
        check(doc, base, "delete unknown policy", "DELETE", "/admin/policies/%d" % pid, 404, headers=admin)

        # Admin: the registry.
        for path in ("/admin/tenants", "/admin/users", "/admin/models", "/admin/tiers"):
            check(doc, base, path, "GET", path, 200, headers=admin)
            check(doc, base, path + " without token", "GET", path, 401)

        # Admin: pools and priority classes (design §14). The demo's pool gpu-main serves every
        # model; the free tier is sheddable, enterprise_co critical.
        check(doc, base, "pools", "GET", "/admin/pools", 200, headers=admin)
        check(doc, base, "pools without token", "GET", "/admin/pools", 401)
        check(doc, base, "push load of an unknown pool", "PUT", "/admin/pools/nope/load", 404, {"queue": 1}, admin)
        check(doc, base, "push a bad load", "PUT", "/admin/pools/gpu-main/load", 400, {"kvCache": 2}, admin)
        check(doc, base, "push load wrong media type", "PUT", "/admin/pools/gpu-main/load", 415, raw_body=b"{}",
              headers=admin, content_type="text/plain")
        check(doc, base, "push load", "PUT", "/admin/pools/gpu-main/load", 202, {"queue": 12, "kvCache": 0.5}, admin)
        deadline = time.time() + 10
        while time.time() < deadline:
            _, _, raw_pools = call(base, "GET", "/admin/pools", headers=admin)
            if json.loads(raw_pools)[0].get("saturated"):
                break
            time.sleep(0.1)
        shed = check(doc, base, "check shed (sheddable, pool saturated)", "POST", "/rate-limit/check", 429,
                     {"userId": "free-user-1", "modelId": "tiny-model", "tenantId": "free_co"})
        if not (isinstance(shed, dict) and shed.get("pool", {}).get("shed")):
            failures.append("a sheddable check on a saturated pool was not shed: %r" % (shed,))
        check(doc, base, "push load back to idle", "PUT", "/admin/pools/gpu-main/load", 202, {"queue": 0, "kvCache": 0.1}, admin)
        for path, ident in (("/admin/tenants/", "free_co"), ("/admin/tiers/", "standard")):
            check(doc, base, "set priority " + path, "PUT", path + ident, 200, {"priority": "standard"}, admin)
            check(doc, base, "set priority of an unknown one " + path, "PUT", path + "nope", 404, {"priority": None}, admin)
            check(doc, base, "set a bad priority " + path, "PUT", path + ident, 400, {"priority": "vip"}, admin)
            check(doc, base, "set priority wrong media type " + path, "PUT", path + ident, 415, raw_body=b"{}",
                  headers=admin, content_type="text/plain")
            check(doc, base, "set priority back " + path, "PUT", path + ident, 200, {"priority": None}, admin)

        # Admin: API keys.
        made = check(doc, base, "create API key", "POST", "/admin/api-keys", 201, {"tenantId": "free_co"}, admin)
        check(doc, base, "create API key without tenant", "POST", "/admin/api-keys", 400, {}, admin)
        check(doc, base, "create API key wrong media type", "POST", "/admin/api-keys", 415, raw_body=b"{}",
              headers=admin, content_type="text/plain")
        check(doc, base, "list API keys", "GET", "/admin/api-keys", 200, headers=admin)
        check(doc, base, "list API keys wrong token", "GET", "/admin/api-keys", 401, headers=wrong)
        kid = made.get("id") if isinstance(made, dict) else 0
        check(doc, base, "set an API key's priority", "PUT", "/admin/api-keys/%d" % kid, 200, {"priority": "critical"}, admin)
        check(doc, base, "set an unknown API key's priority", "PUT", "/admin/api-keys/999999", 404, {"priority": "critical"}, admin)
        check(doc, base, "set an API key's priority wrong media type", "PUT", "/admin/api-keys/%d" % kid, 415, raw_body=b"{}",
              headers=admin, content_type="text/plain")
        check(doc, base, "revoke API key", "DELETE", "/admin/api-keys/%d" % kid, 204, headers=admin)
        check(doc, base, "revoke unknown API key", "DELETE", "/admin/api-keys/999999", 404, headers=admin)
        if isinstance(made, dict):
            check(doc, base, "check with the revoked key", "POST", "/rate-limit/check", 401,
                  {"userId": "u", "modelId": "gpt-4o", "apiKey": made["apiKey"]})

        # Admin: usage, top blocked, events, analytics.
        check(doc, base, "usage", "GET", "/admin/usage?keys=" + qkey, 200, headers=admin)
        check(doc, base, "usage of an ungoverned key", "GET",
              "/admin/usage?key=" + urllib.parse.quote("sluice:{user_model:nobody:gpt-4o}", safe=""), 200, headers=admin)
        check(doc, base, "usage without keys", "GET", "/admin/usage", 400, headers=admin)
        check(doc, base, "explain", "POST", "/admin/explain", 200, ask, admin)
        check(doc, base, "explain without a user", "POST", "/admin/explain", 400, {"modelId": "gpt-4o"}, admin)
        check(doc, base, "explain without token", "POST", "/admin/explain", 401, ask)
        check(doc, base, "explain wrong media type", "POST", "/admin/explain", 415, raw_body=b"{}", headers=admin,
              content_type="text/plain")
        check(doc, base, "top blocked", "GET", "/admin/top-blocked?n=5", 200, headers=admin)
        check(doc, base, "top blocked without token", "GET", "/admin/top-blocked", 401)
        check(doc, base, "reset usage", "DELETE", "/admin/usage/" + qkey, 204, headers=admin)
        check(doc, base, "reset usage of a non-key", "DELETE", "/admin/usage/not-a-key", 400, headers=admin)
        check(doc, base, "check after the reset", "POST", "/rate-limit/check", 200, ask)
        raw = check(doc, base, "events", "GET", "/admin/events?keys=" + qkey, 200, headers=admin, read_limit=2048)
        check(doc, base, "events, totals only", "GET", "/admin/events", 200, headers=admin, read_limit=512)
        check(doc, base, "events of a non-key", "GET", "/admin/events?keys=not-a-key", 400, headers=admin)
        if isinstance(raw, bytes):
            m = re.search(rb"^data: (.*)$", raw, re.M)
            event_schema = doc["paths"]["/admin/events"]["get"]["responses"]["200"]["content"]["text/event-stream"][
                "x-sluice-event-data"]
            if not m:
                failures.append("events: no data line in %r" % raw[:200])
            else:
                for e in jsonschema.Draft7Validator(to_json_schema(event_schema, doc["components"])).iter_errors(
                        json.loads(m.group(1))):
                    failures.append("events data: %s" % e.message)
        check(doc, base, "analytics", "GET", "/admin/analytics?groupBy=model", 200, headers=admin)
        check(doc, base, "analytics bad step", "GET", "/admin/analytics?step=7", 400, headers=admin)

        # The inference door (design §15): a server with --upstream in front of the scripted
        # OpenAI-compatible stand-in (tests/support/openai_upstream.py).
        here = os.path.dirname(os.path.abspath(__file__))
        up_port = free_port()
        upstream = subprocess.Popen([sys.executable, os.path.join(here, "support", "openai_upstream.py"), str(up_port)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        door = None
        try:
            for _ in range(100):
                try:
                    urllib.request.urlopen("http://127.0.0.1:%d/_stats" % up_port, timeout=1).read()
                    break
                except OSError:
                    time.sleep(0.05)
            door, door_base = start(["--registry-file", os.path.join(here, "door", "registry.json"),
                                     "--upstream", "http://127.0.0.1:%d" % up_port, "--door-max-body-bytes", "65536"])
            team = {"Authorization": "Bearer sk-acme-team"}
            tight = {"Authorization": "Bearer sk-tight-team"}
            chat = {"model": "chat-model", "messages": [{"role": "user", "content": "say 3"}]}
            check(doc, door_base, "door chat", "POST", "/v1/chat/completions", 200, chat, team)
            check(doc, door_base, "door chat stream", "POST", "/v1/chat/completions", 200, dict(chat, stream=True), team)
            check(doc, door_base, "door chat no key", "POST", "/v1/chat/completions", 401, chat)
            check(doc, door_base, "door chat unknown model", "POST", "/v1/chat/completions", 404, dict(chat, model="nope"), team)
            check(doc, door_base, "door chat bad max_tokens", "POST", "/v1/chat/completions", 400, dict(chat, max_tokens=0), team)
            check(doc, door_base, "door chat not JSON", "POST", "/v1/chat/completions", 400, headers=team, raw_body=b"{nope")
            check(doc, door_base, "door chat wrong media type", "POST", "/v1/chat/completions", 415, headers=team,
                  raw_body=b"{}", content_type="text/plain")
            check(doc, door_base, "door chat body too large", "POST", "/v1/chat/completions", 413, headers=team,
                  declare_length=1 << 20)
            check(doc, door_base, "door chat upstream garbage", "POST", "/v1/chat/completions", 502,
                  dict(chat, messages=[{"role": "user", "content": "garbage"}]), team)
            check(doc, door_base, "door chat upstream full", "POST", "/v1/chat/completions", 429,
                  dict(chat, messages=[{"role": "user", "content": "busy"}]), team)
            for i in range(2):
                check(doc, door_base, "door chat (tight)", "POST", "/v1/chat/completions", 200, chat, tight)
            check(doc, door_base, "door chat over the limit", "POST", "/v1/chat/completions", 429, chat, tight)
            prompt = {"model": "chat-model", "prompt": "say 2"}
            check(doc, door_base, "door completion", "POST", "/v1/completions", 200, prompt, team)
            check(doc, door_base, "door completion no prompt", "POST", "/v1/completions", 400, {"model": "chat-model"}, team)
            embed = {"model": "embed-model", "input": ["a b", "c"]}
            check(doc, door_base, "door embeddings", "POST", "/v1/embeddings", 200, embed, team)
            check(doc, door_base, "door embeddings unknown key", "POST", "/v1/embeddings", 401, embed,
                  {"Authorization": "Bearer sk-nobody"})
            check(doc, door_base, "door models", "GET", "/v1/models", 200, headers=team)
            check(doc, door_base, "door models no key", "GET", "/v1/models", 401)
        finally:
            if door:
                door.terminate()
                door.wait(timeout=15)
            upstream.terminate()
            upstream.wait(timeout=15)

        # Every operation was exercised, with a success and an error.
        for template, item in doc["paths"].items():
            for method in item:
                if method == "parameters":
                    continue
                seen = exercised.get((method.upper(), template), set())
                if not any(s < 300 for s in seen):
                    failures.append("%s %s: no success exercised" % (method.upper(), template))
                if not any(s >= 400 for s in seen):
                    failures.append("%s %s: no error exercised" % (method.upper(), template))
    finally:
        for p in (server, plain):
            p.terminate()
            p.wait(timeout=15)
    if failures:
        print("\n".join("FAIL: " + f for f in failures))
        return 1
    print("PASS: %d operations, %d answers validated" % (len(exercised), sum(len(s) for s in exercised.values())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
