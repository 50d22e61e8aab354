"""Realistic wrong answers for chapter 02, "the ASGI callable"; each must lose the listed points."""

from tests.wrong_answers import RightAnswer, WrongAnswer

ASSIGNMENT = "02-asgi-callable"

WRONG_ANSWERS = [
    # --- app -----------------------------------------------------------------------------------
    WrongAnswer(
        name="status-as-wsgi-string",
        replaces={"app": '''async def app(scope, receive, send) -> None:
    """Writes the status the WSGI way, reason phrase included."""
    if scope["type"] != "http":
        return
    headers = [(b"content-type", b"text/plain; charset=utf-8")]
    if scope["path"] not in ("/", "/greet"):
        status, text = "404 Not Found", "Not Found"
    elif scope["method"] != "GET":
        status, text = "405 Method Not Allowed", "Method Not Allowed"
        headers.append((b"allow", b"GET"))
    elif scope["path"] == "/":
        status, text = "200 OK", "Hello, ASGI!"
    else:
        query = urllib.parse.parse_qs(scope["query_string"].decode("latin-1"))
        status, text = "200 OK", f"Hello, {query.get('name', ['world'])[0]}!"
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": text.encode()})
'''},
        fails={"test_app_routes": r"status in http.response.start must be an int",
               "test_app_errors": r"status in http.response.start must be an int"},
    ),
    WrongAnswer(
        name="query-string-bytes-not-decoded",
        replaces={"app": '''async def app(scope, receive, send) -> None:
    """Parses the query string as it comes: bytes in, bytes keys out."""
    if scope["type"] != "http":
        return
    headers = [(b"content-type", b"text/plain; charset=utf-8")]
    if scope["path"] not in ("/", "/greet"):
        status, text = 404, "Not Found"
    elif scope["method"] != "GET":
        status, text = 405, "Method Not Allowed"
        headers.append((b"allow", b"GET"))
    elif scope["path"] == "/":
        status, text = 200, "Hello, ASGI!"
    else:
        query = urllib.parse.parse_qs(scope["query_string"])
        status, text = 200, f"Hello, {query.get('name', ['world'])[0]}!"
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": text.encode()})
'''},
        fails={"test_app_routes": r"query_string'\] is bytes"},
    ),
    WrongAnswer(
        name="405-without-allow-header",
        replaces={"app": '''async def app(scope, receive, send) -> None:
    """Answers 405 for a wrong method, but never says which methods are allowed."""
    if scope["type"] != "http":
        return
    if scope["path"] not in ("/", "/greet"):
        status, text = 404, "Not Found"
    elif scope["method"] != "GET":
        status, text = 405, "Method Not Allowed"
    elif scope["path"] == "/":
        status, text = 200, "Hello, ASGI!"
    else:
        name = urllib.parse.parse_qs(scope["query_string"].decode()).get("name", ["world"])[0]
        status, text = 200, f"Hello, {name}!"
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8")]})
    await send({"type": "http.response.body", "body": text.encode()})
'''},
        fails={"test_app_errors": r"`allow` header"},
    ),
    # --- read_body -----------------------------------------------------------------------------
    WrongAnswer(
        name="read-body-first-message-only",
        replaces={"read_body": '''async def read_body(receive) -> bytes:
    """One receive(), one body: true for small requests, so it passes a quick try."""
    message = await receive()
    return message.get("body", b"")
'''},
        fails={"test_read_body": r"returned only the first piece",
               "test_read_body_served": r"its own http.request message: read them all"},
    ),
    # --- ticker --------------------------------------------------------------------------------
    WrongAnswer(
        name="ticker-sends-one-body",
        replaces={"ticker": '''async def ticker(scope, receive, send) -> None:
    """Waits between the ticks, but collects them and sends the body once, at the end."""
    query = urllib.parse.parse_qs(scope["query_string"].decode("latin-1"))
    count = int(query.get("count", ["3"])[0])
    interval = float(query.get("interval", ["0.1"])[0])
    lines = []
    for n in range(1, count + 1):
        if n > 1:
            await asyncio.sleep(interval)
        lines.append(f"tick {n}\\n")
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain; charset=utf-8")]})
    await send({"type": "http.response.body", "body": "".join(lines).encode()})
'''},
        fails={"test_ticker_messages": r"buffered response, not a stream",
               "test_ticker_streams": r"arrived all at once"},
    ),
    WrongAnswer(
        name="ticker-blocks-with-time-sleep",
        replaces={"ticker": '''import time


async def ticker(scope, receive, send) -> None:
    """Streams correctly, but waits with time.sleep."""
    query = urllib.parse.parse_qs(scope["query_string"].decode("latin-1"))
    count = int(query.get("count", ["3"])[0])
    interval = float(query.get("interval", ["0.1"])[0])
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain; charset=utf-8")]})
    for n in range(1, count + 1):
        if n > 1:
            time.sleep(interval)
        await send({"type": "http.response.body", "body": f"tick {n}\\n".encode(), "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})
'''},
        fails={"test_ticker_messages": r"blocked the loop.*not time\.sleep"},
    ),
    # --- TimingMiddleware ----------------------------------------------------------------------
    WrongAnswer(
        name="timing-header-as-str",
        replaces={"TimingMiddleware": '''class TimingMiddleware:
    """Adds the header as text, as one would in a WSGI app or with requests."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def send_with_time(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append(("x-process-time", str(round(time.perf_counter() - started, 4))))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_time)
'''},
        fails={"test_timing_header": r"headers must be \(name, value\) pairs of bytes",
               "test_timing_passes_through": r"headers must be \(name, value\) pairs of bytes"},
    ),
    WrongAnswer(
        name="timing-appends-to-the-apps-header-list",
        replaces={"TimingMiddleware": '''class TimingMiddleware:
    """Appends the header to the list the app sent, in place."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def send_with_time(message):
            if message["type"] == "http.response.start":
                elapsed = time.perf_counter() - started
                message.setdefault("headers", []).append((b"x-process-time", f"{elapsed:.4f}".encode()))
            await send(message)

        await self.app(scope, receive, send_with_time)
'''},
        fails={"test_timing_header": r"Build a new list"},
    ),
    WrongAnswer(
        name="timing-buffers-the-body",
        replaces={"TimingMiddleware": '''class TimingMiddleware:
    """Times the whole response, so it holds every message back until the body is complete."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        start, body = {}, b""

        async def collect(message):
            nonlocal start, body
            if message["type"] == "http.response.start":
                start = message
            else:
                body += message.get("body", b"")
                if not message.get("more_body", False):
                    elapsed = time.perf_counter() - started
                    headers = [*start.get("headers", []), (b"x-process-time", f"{elapsed:.4f}".encode())]
                    await send({**start, "headers": headers})
                    await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, collect)
'''},
        fails={"test_timing_passes_through": r"held the body back.*collects the body breaks streaming"},
    ),
    WrongAnswer(
        name="timing-assumes-every-scope-is-http",
        replaces={"TimingMiddleware": '''class TimingMiddleware:
    """Also logs each request's method and path, which every scope is assumed to have."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        started = time.perf_counter()
        request_line = f"{scope['method']} {scope['path']}"

        async def send_with_time(message):
            if message["type"] == "http.response.start":
                elapsed = time.perf_counter() - started
                message = {**message, "headers": [*message.get("headers", []),
                                                  (b"x-process-time", f"{elapsed:.4f}".encode())]}
                print(f"{request_line}: {elapsed:.4f} s")
            await send(message)

        await self.app(scope, receive, send_with_time)
'''},
        fails={"test_timing_passes_through": r"raised KeyError: 'method' for a lifespan scope"},
    ),
    # --- lifespan ------------------------------------------------------------------------------
    WrongAnswer(
        name="lifespan-returns-after-startup",
        replaces={"lifespan": '''async def lifespan(scope, receive, send, database: Database) -> None:
    """Handles startup, then considers its job done."""
    await receive()
    try:
        await database.connect()
    except Exception as exc:
        await send({"type": "lifespan.startup.failed", "message": f"cannot connect: {exc}"})
        return
    if "state" in scope:
        scope["state"]["database"] = database
    await send({"type": "lifespan.startup.complete"})
'''},
        fails={"test_lifespan": r"returned without answering lifespan\.shutdown"},
    ),
    WrongAnswer(
        name="lifespan-lets-startup-error-out",
        replaces={"lifespan": '''async def lifespan(scope, receive, send, database: Database) -> None:
    """Lets a failed connect() raise: surely the server will stop."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await database.connect()
            if "state" in scope:
                scope["state"]["database"] = database
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await database.close()
            await send({"type": "lifespan.shutdown.complete"})
            return
'''},
        fails={"test_lifespan_startup_failed": r"let the ConnectionError .* out.*starts anyway"},
    ),
]

RIGHT_ANSWERS = [
    RightAnswer(
        # The same behaviour written another way: a route table, header pairs as lists (the spec
        # allows any two-item iterable), a ticker whose last tick ends the response, a middleware
        # that is a function and uses Starlette's MutableHeaders, `match` statements.
        name="written-differently",
        replaces={
            "app": '''from urllib.parse import parse_qsl

TEXT = [b"content-type", b"text/plain; charset=utf-8"]


async def home(query):
    return 200, "Hello, ASGI!"


async def greet(query):
    return 200, "Hello, %s!" % dict(parse_qsl(query)).get("name", "world")


ROUTES = {"/": home, "/greet": greet}


async def app(scope, receive, send) -> None:
    assert scope["type"] == "http", "only HTTP here"
    handler = ROUTES.get(scope["path"])
    extra = []
    if handler is None:
        status, text = 404, "Not Found"
    elif scope["method"] != "GET":
        status, text, extra = 405, "Method Not Allowed", [[b"allow", b"GET"]]
    else:
        status, text = await handler(str(scope["query_string"], "ascii"))
    body = text.encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [TEXT, [b"content-length", str(len(body)).encode()], *extra]})
    await send({"type": "http.response.body", "body": body, "more_body": False})
''',
            "read_body": '''async def read_body(receive) -> bytes:
    chunks = []
    more = True
    while more:
        message = await receive()
        match message:
            case {"type": "http.request"}:
                chunks.append(message.get("body") or b"")
                more = bool(message.get("more_body"))
            case _:
                raise ConnectionError(f"got {message['type']} before the end of the body")
    return b"".join(chunks)
''',
            "ticker": '''async def ticks(count, interval):
    for n in range(1, count + 1):
        yield f"tick {n}\\n".encode()
        if n < count:
            await asyncio.sleep(interval)


async def ticker(scope, receive, send) -> None:
    params = dict(urllib.parse.parse_qsl(scope["query_string"].decode()))
    count, interval = int(params.get("count", 3)), float(params.get("interval", 0.1))
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain; charset=utf-8")]})
    n = 0
    async for line in ticks(count, interval):
        n += 1
        await send({"type": "http.response.body", "body": line, "more_body": n < count})
''',
            "TimingMiddleware": '''from starlette.datastructures import MutableHeaders


def TimingMiddleware(app):
    """Pure ASGI middleware as a closure."""

    async def timing(scope, receive, send):
        if scope["type"] == "http":
            t0 = time.monotonic()

            async def send_timed(message):
                if message["type"] == "http.response.start":
                    message.setdefault("headers", [])
                    MutableHeaders(scope=message).append("X-Process-Time", str(time.monotonic() - t0))
                await send(message)

            return await app(scope, receive, send_timed)
        return await app(scope, receive, send)

    return timing
''',
            "lifespan": '''async def lifespan(scope, receive, send, database: Database) -> None:
    while True:
        match (await receive())["type"]:
            case "lifespan.startup":
                try:
                    await database.connect()
                except OSError as error:
                    await send({"type": "lifespan.startup.failed", "message": repr(error)})
                    break
                scope.get("state", {})["database"] = database
                await send({"type": "lifespan.startup.complete"})
            case "lifespan.shutdown":
                try:
                    await database.close()
                finally:
                    await send({"type": "lifespan.shutdown.complete"})
                break
''',
        },
    ),
    RightAnswer(
        # Correct, but noisy, including inside the server's thread: debug output on stderr and
        # warnings must not cost a passing test its points.
        name="correct-but-prints-to-stderr-and-warns",
        replaces={
            "app": '''import sys
import warnings


async def app(scope, receive, send) -> None:
    print("app called:", scope["type"], scope.get("method"), scope.get("path"), file=sys.stderr)
    if scope["type"] != "http":
        return
    warnings.warn("this app is a toy", UserWarning)
    headers = [(b"content-type", b"text/plain; charset=utf-8")]
    if scope["path"] not in ("/", "/greet"):
        status, text = 404, "Not Found"
    elif scope["method"] != "GET":
        status, text = 405, "Method Not Allowed"
        headers.append((b"allow", b"GET"))
    else:
        query = urllib.parse.parse_qs(scope["query_string"].decode("latin-1"))
        status, text = 200, "Hello, ASGI!" if scope["path"] == "/" else f"Hello, {query.get('name', ['world'])[0]}!"
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": text.encode()})
''',
            "read_body": '''import sys


async def read_body(receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        print("read_body got", message["type"], file=sys.stderr)
        if message["type"] == "http.disconnect":
            raise ConnectionError("client gone")
        body += message.get("body", b"")
        if not message.get("more_body", False):
            return body
''',
            "ticker": '''import sys


async def ticker(scope, receive, send) -> None:
    query = urllib.parse.parse_qs(scope["query_string"].decode("latin-1"))
    count = int(query.get("count", ["3"])[0])
    interval = float(query.get("interval", ["0.1"])[0])
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain; charset=utf-8")]})
    for n in range(1, count + 1):
        if n > 1:
            await asyncio.sleep(interval)
        print("tick", n, file=sys.stderr)
        await send({"type": "http.response.body", "body": f"tick {n}\\n".encode(), "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})
''',
            "TimingMiddleware": '''import sys
import warnings


class TimingMiddleware:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            warnings.warn(f"not timing a {scope['type']} scope", RuntimeWarning)
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def send_with_time(message):
            if message["type"] == "http.response.start":
                elapsed = time.perf_counter() - started
                print(f"x-process-time {elapsed:.4f}", file=sys.stderr)
                message = {**message, "headers": [*message.get("headers", []), (b"x-process-time", b"%.4f" % elapsed)]}
            await send(message)

        await self.app(scope, receive, send_with_time)
''',
            "lifespan": '''import sys
import warnings


async def lifespan(scope, receive, send, database: Database) -> None:
    while True:
        message = await receive()
        print("lifespan got", message, file=sys.stderr)
        if message["type"] == "lifespan.startup":
            try:
                await database.connect()
            except Exception as exc:
                warnings.warn(f"startup failed: {exc}")
                await send({"type": "lifespan.startup.failed", "message": str(exc)})
                return
            if "state" in scope:
                scope["state"]["database"] = database
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await database.close()
            await send({"type": "lifespan.shutdown.complete"})
            return
''',
        },
    ),
]
