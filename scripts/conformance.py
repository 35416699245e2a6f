#!/usr/bin/env python3
"""Conformance of a live server with its own OpenAPI description.

For each store (the embedded SQLite store, then a fresh PostgreSQL
database), starts the debug `portcullis` binary on a free 127.0.0.1 port
and:

1. fetches /api/openapi.json (no token) and validates it with
   openapi-spec-validator (OpenAPI 3.1);
2. gets a token for the bootstrap client from /oauth/token;
3. runs schemathesis over every operation of the description with the
   checks not_a_server_error, response_schema_conformance,
   status_code_conformance, content_type_conformance and jsonapi_document
   (scripts/conformance_hooks.py).

Usage: conformance.py BINARY [sqlite] [postgres]
Environment: DATABASE_URL (PostgreSQL server; a database is created and
dropped), CONFORMANCE_MAX_EXAMPLES (default 25), CONFORMANCE_SEED,
CONFORMANCE_JSONAPI_SCHEMA (the JSON:API schema for jsonapi_document),
CONFORMANCE_LOG_DIR (where schemathesis' whole output is kept; a passing run
prints only its summary).
"""

import base64
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENT_ID = "conformance-bootstrap-client"
CLIENT_SECRET = "conformance-bootstrap-secret-" + "x" * 16
CHECKS = ",".join(
    [
        "not_a_server_error",
        "response_schema_conformance",
        "status_code_conformance",
        "content_type_conformance",
        "jsonapi_document",
    ]
)


def log(message):
    print(f"conformance: {message}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(url, data=None, headers=None):
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def wait_ready(base, server, seconds=90):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with {server.returncode} before it was ready")
        try:
            status, _ = request(f"{base}/health/ready")
            if status == 200:
                return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server was not ready within {seconds} s")


def get_json(base, path, token):
    status, body = request(f"{base}{path}", headers={"Authorization": f"Bearer {token}"})
    if status != 200:
        raise RuntimeError(f"GET {path}: {status} {body[:300]!r}")
    return json.loads(body)


def protected_ids(base, token):
    """The bootstrap client, its grants and today's signing keys."""
    ids = {CLIENT_ID}
    for client in get_json(base, "/api/clients?page[size]=500", token)["data"]:
        if client["attributes"].get("client_id") == CLIENT_ID:
            ids.add(client["id"])
            grants = get_json(base, f"/api/client-grants?filter[client]={client['id']}", token)
            ids.update(grant["id"] for grant in grants["data"])
    for key in get_json(base, "/api/signing-keys?page[size]=500", token)["data"]:
        ids.add(key["id"])
    if len(ids) < 4:
        raise RuntimeError(f"could not find the bootstrap client, its grant and a key: {ids}")
    return ids


def token_for(base):
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    status, body = request(
        f"{base}/oauth/token",
        data=b"grant_type=client_credentials",
        headers={
            "Authorization": f"Basic {basic}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    if status != 200:
        raise RuntimeError(f"/oauth/token: {status} {body[:300]!r}")
    return json.loads(body)["access_token"]


def psql(url, sql):
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", sql], check=True)


def database_url(server_url, name):
    parts = urllib.parse.urlsplit(server_url)
    return urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))


def run_store(binary, store, workdir):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTCULLIS_")}
    env.update(
        {
            "PORTCULLIS_DATA_DIR": os.path.join(workdir, store),
            "PORTCULLIS_BOOTSTRAP__CLIENT_ID": CLIENT_ID,
            "PORTCULLIS_BOOTSTRAP__CLIENT_SECRET": CLIENT_SECRET,
            "PORTCULLIS_SECURITY__BCRYPT_COST": "4",
            "PORTCULLIS_WEBHOOKS__ALLOW_PRIVATE_TARGETS": "true",
            "PORTCULLIS_LOG__LEVEL": "warn",
            # Limits stay on (their headers and documented 429s are part of
            # what is checked) but high enough not to starve the run.
            "PORTCULLIS_RATE_LIMITS__API_PER_CLIENT": "100000",
            "PORTCULLIS_RATE_LIMITS__TOKEN_PER_CLIENT": "100000",
            "PORTCULLIS_RATE_LIMITS__TOKEN_PER_ADDRESS": "100000",
            "PORTCULLIS_RATE_LIMITS__PUBLIC_PER_ADDRESS": "100000",
        }
    )
    port = free_port()
    env["PORTCULLIS_SERVER__BIND"] = f"127.0.0.1:{port}"
    dropped = None
    if store == "postgres":
        server_url = os.environ["DATABASE_URL"]
        name = f"conformance_{secrets.token_hex(4)}"
        psql(server_url, f"CREATE DATABASE {name}")
        dropped = (server_url, name)
        env["PORTCULLIS_DATABASE__URL"] = database_url(server_url, name)
        env["PORTCULLIS_SECRETS__MASTER_KEY"] = base64.b64encode(secrets.token_bytes(32)).decode()
    base = f"http://127.0.0.1:{port}"
    server_log = os.path.join(workdir, f"server-{store}.log")
    with open(server_log, "wb") as out:
        server = subprocess.Popen(
            [binary, "serve"], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=workdir
        )
    try:
        wait_ready(base, server)
        status, body = request(f"{base}/api/openapi.json")
        if status != 200:
            raise RuntimeError(f"/api/openapi.json: {status}")
        description = json.loads(body)
        validate(description)
        operations = sum(
            1
            for item in description["paths"].values()
            for method in item
            if method in ("get", "post", "put", "patch", "delete")
        )
        log(f"[{store}] /api/openapi.json is a valid OpenAPI {description['openapi']} description of {operations} operations")
        token = token_for(base)
        protected = protected_ids(base, token)
        st_env = dict(os.environ)
        st_env["SCHEMATHESIS_HOOKS"] = "conformance_hooks"
        st_env["PYTHONPATH"] = HERE + os.pathsep + st_env.get("PYTHONPATH", "")
        st_env["CONFORMANCE_PROTECTED"] = " ".join(sorted(protected))
        command = [
            os.path.join(os.path.dirname(sys.executable), "schemathesis"),
            "run",
            f"{base}/api/openapi.json",
            "--header",
            f"Authorization: Bearer {token}",
            "--checks",
            CHECKS,
            "--max-examples",
            os.environ.get("CONFORMANCE_MAX_EXAMPLES", "25"),
            # One worker: with several threads, hypothesis (6.170) sometimes
            # fails internally while describing a filter ("AST constructor
            # recursion depth mismatch"); generation is CPU-bound under the
            # GIL anyway.
            "--workers",
            "1",
            "--request-timeout",
            "30",
            "--output-sanitize",
            "true",
            "--report",
            "junit",
            "--report-junit-path",
            os.path.join(workdir, f"schemathesis-{store}.xml"),
        ]
        if os.environ.get("CONFORMANCE_SEED"):
            command += ["--seed", os.environ["CONFORMANCE_SEED"]]
        started = time.monotonic()
        log(f"[{store}] schemathesis: every operation, {os.environ.get('CONFORMANCE_MAX_EXAMPLES', '25')} examples each (a few minutes)")
        result = subprocess.run(
            command, env=st_env, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        saved = save_output(store, result.stdout)
        log(f"[{store}] schemathesis finished in {time.monotonic() - started:.0f} s with exit code {result.returncode}")
        # A green run shows schemathesis' summary only (its per-operation
        # hints about links and test data are advice on writing schemas, not
        # findings); a red one shows everything.
        shown = result.stdout if result.returncode != 0 else summary(result.stdout)
        for line in shown.splitlines():
            print(f"    {line}" if line else "", file=sys.stderr)
        if saved:
            log(f"[{store}] schemathesis' whole output: {saved}")
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with {server.returncode} during the run")
        return result.returncode == 0
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=40)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        with open(server_log, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
        if server.returncode not in (0, -signal.SIGTERM):
            shown = lines[-20:]
        else:
            shown = [line for line in lines if "ERROR" in line][-20:]
        for line in shown:
            log(f"[{store}] server: {line}")
        if dropped:
            psql(dropped[0], f"DROP DATABASE IF EXISTS {dropped[1]} WITH (FORCE)")


def summary(output):
    """The SUMMARY section of schemathesis' output, without the report path
    (a temporary directory, gone when the run ends)."""
    lines = output.splitlines()
    start = next((i for i, line in enumerate(lines) if " SUMMARY " in line and line.startswith("=")), None)
    if start is None:
        return output
    kept, skipping = [], False
    for line in lines[start + 1 :]:
        if line.startswith("Reports:"):
            skipping = True
            continue
        if skipping and (not line.strip() or line.startswith("  ")):
            continue
        skipping = False
        kept.append(line)
    return "\n".join(kept).strip("\n")


def save_output(store, output):
    """Keeps schemathesis' whole output under CONFORMANCE_LOG_DIR, if set."""
    directory = os.environ.get("CONFORMANCE_LOG_DIR")
    if not directory:
        return None
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"schemathesis-{store}.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write(output)
    return path


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    binary = os.path.abspath(sys.argv[1])
    stores = sys.argv[2:] or ["sqlite", "postgres"]
    failed = []
    with tempfile.TemporaryDirectory(prefix="portcullis-conformance-") as workdir:
        for store in stores:
            try:
                if not run_store(binary, store, workdir):
                    failed.append(store)
            except (RuntimeError, OpenAPIValidationError, subprocess.CalledProcessError) as e:
                log(f"[{store}] {e}")
                failed.append(store)
    if failed:
        log(f"FAILED on {', '.join(failed)}")
        return 1
    log(f"passed on {', '.join(stores)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
