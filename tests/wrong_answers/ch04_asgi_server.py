"""Realistic wrong answers for chapter 04, "your own ASGI server"; each must lose the listed points."""

from tests.wrong_answers import RightAnswer, WrongAnswer

ASSIGNMENT = "04-asgi-server"

# --- building blocks shared by several answers -------------------------------------------------------

SENDER_INIT = '''class Sender:
    """ASGI `send` for one response: http.response.* messages in, HTTP/1.1 bytes out on `writer`."""

    def __init__(self, writer: asyncio.StreamWriter, request: Request, finished: asyncio.Event | None = None):
        self.writer = writer
        self.keep_alive = request.keep_alive
        self.no_body = request.method == "HEAD"
        self.finished = finished if finished is not None else asyncio.Event()
        self.started = False
        self.complete = False
        self.chunked = False

'''

WRONG_ANSWERS = [
    # --- build_scope ---------------------------------------------------------------------------------
    WrongAnswer(
        name="scope-path-is-the-target",
        replaces={"build_scope": '''def build_scope(request: Request, client: tuple[str, int], server: tuple[str, int]) -> dict:
    """Takes the request target as the path, query string and all."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": request.version.removeprefix("HTTP/"),
        "method": request.method,
        "scheme": "http",
        "path": urllib.parse.unquote(request.target),
        "raw_path": request.target.encode("latin-1"),
        "query_string": b"",
        "root_path": "",
        "headers": [(name.encode("latin-1"), value.encode("latin-1")) for name, value in request.headers],
        "client": client,
        "server": server,
    }
'''},
        fails={"test_build_scope": r"the path is the target before '\?'"},
    ),
    WrongAnswer(
        name="scope-path-not-percent-decoded",
        replaces={"build_scope": '''def build_scope(request: Request, client: tuple[str, int], server: tuple[str, int]) -> dict:
    """Splits the target correctly, but gives the app the path still percent-encoded."""
    path, _, query = request.target.partition("?")
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": request.version[5:],
        "method": request.method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(name.encode(), value.encode()) for name, value in request.headers],
        "client": client,
        "server": server,
    }
'''},
        fails={"test_build_scope_encoding": r"the path is percent-decoded"},
    ),
    # --- make_receive -------------------------------------------------------------------------------
    WrongAnswer(
        name="receive-returns-the-body-every-time",
        replaces={"make_receive": '''def make_receive(body: bytes, finished: asyncio.Event):
    """Hands out the body whenever it is asked: Starlette's disconnect listener then spins forever."""

    async def receive() -> dict:
        return {"type": "http.request", "body": body, "more_body": False}

    return receive
'''},
        fails={"test_receive": r"returned .*http\.request.* at once",
               "test_fastapi_matches_uvicorn": r"needs a receive\(\) that waits after the body"},
    ),
    # --- Sender -------------------------------------------------------------------------------------
    WrongAnswer(
        name="sender-writes-a-body-for-head",
        replaces={"Sender": SENDER_INIT + '''    async def __call__(self, message: dict) -> None:
        """Forgets that a response to HEAD, a 204 and a 304 have no body."""
        if self.finished.is_set() and not self.complete:
            return
        if not self.started:
            if message["type"] != "http.response.start":
                raise RuntimeError("http.response.start must come first")
            self.started = True
            headers = list(message.get("headers", []))
            if (b"connection", b"close") in headers:
                self.keep_alive = False
            elif not self.keep_alive:
                headers.append((b"connection", b"close"))
            if all(name.lower() != b"content-length" for name, _ in headers):
                self.chunked = True
                headers.append((b"transfer-encoding", b"chunked"))
            lines = [f"HTTP/1.1 {message['status']} {http.HTTPStatus(message['status']).phrase}".encode()]
            lines += [name + b": " + value for name, value in headers]
            self.writer.write(b"\\r\\n".join(lines) + b"\\r\\n\\r\\n")
        elif not self.complete:
            if message["type"] != "http.response.body":
                raise RuntimeError("only http.response.body after the start")
            body = message.get("body", b"")
            more = message.get("more_body", False)
            if self.chunked:
                if body:
                    self.writer.write(f"{len(body):x}\\r\\n".encode() + body + b"\\r\\n")
                if not more:
                    self.writer.write(b"0\\r\\n\\r\\n")
            else:
                self.writer.write(body)
            if not more:
                self.complete = True
                self.finished.set()
        else:
            raise RuntimeError("the response is complete")
        try:
            await self.writer.drain()
        except ConnectionError:
            self.finished.set()
'''},
        fails={"test_sender_length": r"a response to HEAD has the head only",
               "test_fastapi_matches_uvicorn": r"compared with uvicorn's"},
    ),
    WrongAnswer(
        name="sender-chunk-size-in-decimal",
        replaces={"Sender": SENDER_INIT + '''    async def __call__(self, message: dict) -> None:
        """Writes each chunk's size in decimal: right for pieces under 10 bytes, wrong after."""
        if self.finished.is_set() and not self.complete:
            return
        if not self.started:
            if message["type"] != "http.response.start":
                raise RuntimeError("http.response.start must come first")
            self.started = True
            status = message["status"]
            headers = list(message.get("headers", []))
            if any(n.lower() == b"connection" and v.lower() == b"close" for n, v in headers):
                self.keep_alive = False
            elif not self.keep_alive:
                headers.append((b"connection", b"close"))
            if status in (204, 304):
                self.no_body = True
            if not self.no_body and b"content-length" not in [n.lower() for n, _ in headers]:
                self.chunked = True
                headers.append((b"transfer-encoding", b"chunked"))
            head = [f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}\\r\\n".encode()]
            head += [n + b": " + v + b"\\r\\n" for n, v in headers]
            self.writer.write(b"".join(head) + b"\\r\\n")
        elif not self.complete:
            if message["type"] != "http.response.body":
                raise RuntimeError("only http.response.body after the start")
            body = message.get("body", b"")
            more = message.get("more_body", False)
            if self.no_body:
                pass
            elif self.chunked:
                if body:
                    self.writer.write(str(len(body)).encode() + b"\\r\\n" + body + b"\\r\\n")
                if not more:
                    self.writer.write(b"0\\r\\n\\r\\n")
            else:
                self.writer.write(body)
            if not more:
                self.complete = True
                self.finished.set()
        else:
            raise RuntimeError("the response is complete")
        try:
            await self.writer.drain()
        except ConnectionError:
            self.finished.set()
'''},
        fails={"test_sender_chunked": r"size in hexadecimal"},
    ),
    WrongAnswer(
        name="sender-holds-the-body-until-the-end",
        replaces={"Sender": SENDER_INIT + '''    async def __call__(self, message: dict) -> None:
        """Collects the whole body, then writes one response with a Content-Length: no chunks, no streaming."""
        if message["type"] == "http.response.start":
            self.started = True
            self.start = message
            self.parts = []
            return
        self.parts.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        body = b"" if self.no_body else b"".join(self.parts)
        headers = [(n, v) for n, v in self.start.get("headers", []) if n.lower() != b"content-length"]
        headers.append((b"content-length", str(len(b"".join(self.parts))).encode()))
        if not self.keep_alive:
            headers.append((b"connection", b"close"))
        status = self.start["status"]
        head = f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}\\r\\n".encode()
        head += b"".join(n + b": " + v + b"\\r\\n" for n, v in headers)
        self.writer.write(head + b"\\r\\n" + body)
        self.complete = True
        self.finished.set()
        await self.writer.drain()
'''},
        fails={"test_sender_chunked": r"should say `transfer-encoding: chunked`"},
    ),
    # --- serve_connection ---------------------------------------------------------------------------
    WrongAnswer(
        name="serve-connection-one-request-only",
        replaces={"serve_connection": '''async def serve_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, app) -> None:
    """Chapter 01's habit: one request per connection, then close."""
    client = writer.get_extra_info("peername")[:2]
    server = writer.get_extra_info("sockname")[:2]
    try:
        try:
            request = await read_request(reader)
        except ValueError as exc:
            writer.write(build_response(400, str(exc).encode(), {"Connection": "close"}))
            return
        if request is None:
            return
        finished = asyncio.Event()
        send = Sender(writer, request, finished)
        try:
            await app(build_scope(request, client, server), make_receive(request.body, finished), send)
        except Exception as exc:
            print("the app raised", repr(exc))
            if not send.started:
                writer.write(build_response(500, b"Internal Server Error", {"Connection": "close"}))
    finally:
        writer.close()
'''},
        fails={"test_serve_connection": r"keep-alive: after a response, read the next request"},
    ),
    WrongAnswer(
        name="serve-connection-lets-errors-out",
        replaces={"serve_connection": '''async def serve_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, app) -> None:
    """Keep-alive and read-ahead right, but a bad request or a crashing app takes the connection task down."""
    client = writer.get_extra_info("peername")[:2]
    server = writer.get_extra_info("sockname")[:2]
    next_request = asyncio.ensure_future(read_request(reader))
    try:
        while True:
            request = await next_request
            if request is None:
                return
            finished = asyncio.Event()
            next_request = read_ahead(reader, finished)
            send = Sender(writer, request, finished)
            await app(build_scope(request, client, server), make_receive(request.body, finished), send)
            if not send.keep_alive:
                return
    finally:
        next_request.cancel()
        writer.close()
'''},
        fails={"test_serve_connection_errors": r"serve_connection raised ValueError.*A server must survive"},
    ),
    # --- start_server -------------------------------------------------------------------------------
    WrongAnswer(
        name="start-server-awaits-serve-forever",
        replaces={"start_server": '''async def start_server(app, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Starts serving, then serves forever, as a script's main() would: it never returns."""
    connections = set()

    def on_connection(reader, writer):
        task = asyncio.ensure_future(serve_connection(reader, writer, app))
        connections.add(task)
        task.add_done_callback(connections.discard)

    server = await asyncio.start_server(on_connection, host, port)
    async with server:
        await server.serve_forever()
    return RunningServer(server, connections)
'''},
        fails={"test_start_server": r"start_server did not finish within"},
    ),
    WrongAnswer(
        name="start-server-does-not-track-tasks",
        replaces={"start_server": '''async def start_server(app, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Serves every connection in a task, but keeps no record of them: stopping cannot end them."""

    def on_connection(reader, writer):
        asyncio.ensure_future(serve_connection(reader, writer, app))

    server = await asyncio.start_server(on_connection, host, port)
    return RunningServer(server, set())
'''},
        fails={"test_start_server": r"add every connection's task to `connections`"},
    ),
]

RIGHT_ANSWERS = [
    RightAnswer(
        name="start-server-with-an-async-callback",
        replaces={"start_server": '''async def start_server(app, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """asyncio's own task per connection, recorded from inside it (noisy on 3.11 when cancelled, on stdout here)."""
    connections = set()

    async def on_connection(reader, writer):
        task = asyncio.current_task()
        connections.add(task)
        try:
            await serve_connection(reader, writer, app)
        finally:
            connections.discard(task)

    return RunningServer(await asyncio.start_server(on_connection, host, port), connections)
'''},
    ),
    RightAnswer(
        name="sender-writes-the-head-with-the-first-body",
        replaces={"Sender": SENDER_INIT + '''    async def __call__(self, message: dict) -> None:
        """Keeps the head until the first body message, so that a short response leaves in one write."""
        if self.finished.is_set() and not self.complete:
            return
        kind = message["type"]
        if kind == "http.response.start" and not self.started:
            self.started = True
            status = message["status"]
            headers = [(name.lower(), value) for name, value in message.get("headers", [])]
            if (b"connection", b"close") in [(n, v.lower()) for n, v in headers]:
                self.keep_alive = False
            elif not self.keep_alive:
                headers.append((b"connection", b"close"))
            self.no_body = self.no_body or status in (204, 304) or status < 200
            self.chunked = not self.no_body and all(n != b"content-length" for n, _ in headers)
            if self.chunked:
                headers.append((b"transfer-encoding", b"chunked"))
            reason = http.HTTPStatus(status).phrase
            self.head = b"HTTP/1.1 %d %s\\r\\n" % (status, reason.encode()) + b"".join(
                b"%s: %s\\r\\n" % pair for pair in headers) + b"\\r\\n"
            return
        if kind != "http.response.body" or not self.started or self.complete:
            raise RuntimeError(f"unexpected {kind!r}")
        body, more = message.get("body", b""), message.get("more_body", False)
        out = [self.head]
        self.head = b""
        if not self.no_body:
            if not self.chunked:
                out.append(body)
            else:
                if body:
                    out.append(b"%x\\r\\n" % len(body) + body + b"\\r\\n")
                if not more:
                    out.append(b"0\\r\\n\\r\\n")
        self.writer.write(b"".join(out))
        if not more:
            self.complete = True
            self.finished.set()
        try:
            await self.writer.drain()
        except ConnectionError:
            self.finished.set()
'''},
    ),
]
