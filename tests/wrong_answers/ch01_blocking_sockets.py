"""Realistic wrong answers for chapter 01, "blocking sockets"; each must lose the listed points."""

from tests.wrong_answers import WrongAnswer

ASSIGNMENT = "01-blocking-sockets"

WRONG_ANSWERS = [
    # --- parse_request -------------------------------------------------------------------------
    WrongAnswer(
        name="headers-case-sensitive",
        replaces={"parse_request": '''def parse_request(raw: bytes) -> Request:
    """Keeps header names as the client spelled them."""
    head, blank_line, rest = raw.partition(b"\\r\\n\\r\\n")
    if not blank_line:
        raise ValueError("incomplete request")
    request_line, *header_lines = head.decode("latin-1").split("\\r\\n")
    parts = request_line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        raise ValueError(f"bad request line {request_line!r}")
    headers = []
    for line in header_lines:
        name, colon, value = line.partition(":")
        if not colon:
            raise ValueError(f"bad header line {line!r}")
        headers.append((name.strip(), value.strip()))
    length = 0
    for name, value in headers:
        if name.lower() == "content-length":
            if not value.isdigit():
                raise ValueError("bad Content-Length")
            length = int(value)
    if len(rest) < length:
        raise ValueError("incomplete body")
    return Request(*parts, headers, rest[:length])
'''},
        fails={"test_parse_request": r"header names must be lower-cased"},
    ),
    WrongAnswer(
        name="headers-in-a-dict",
        replaces={"parse_request": '''def parse_request(raw: bytes) -> Request:
    """Collects headers in a dict, so a repeated header keeps only its last value."""
    head, blank_line, rest = raw.partition(b"\\r\\n\\r\\n")
    if not blank_line:
        raise ValueError("incomplete request")
    request_line, *header_lines = head.decode("latin-1").split("\\r\\n")
    parts = request_line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        raise ValueError(f"bad request line {request_line!r}")
    headers = {}
    for line in header_lines:
        name, colon, value = line.partition(":")
        if not colon:
            raise ValueError(f"bad header line {line!r}")
        headers[name.strip().lower()] = value.strip()
    length = headers.get("content-length", "0")
    if not length.isdigit():
        raise ValueError("bad Content-Length")
    if len(rest) < int(length):
        raise ValueError("incomplete body")
    return Request(*parts, list(headers.items()), rest[:int(length)])
'''},
        fails={"test_parse_request": r"A dict keeps only one value per name"},
    ),
    WrongAnswer(
        name="parse-errors-unexplained",
        replaces={"parse_request": '''def parse_request(raw: bytes) -> Request:
    """Lets Python's own errors speak for it: unpacking and int() raise ValueError anyway."""
    head, _, rest = raw.partition(b"\\r\\n\\r\\n")
    request_line, *header_lines = head.decode("latin-1").split("\\r\\n")
    method, target, version = request_line.split(" ")
    headers = []
    for line in header_lines:
        name, value = line.split(":", 1)
        headers.append((name.strip().lower(), value.strip()))
    length = int(dict(headers).get("content-length", 0))
    return Request(method, target, version, headers, rest[:length])
'''},
        fails={"test_parse_request_errors": r"should say what is wrong"},
    ),
    WrongAnswer(
        name="parse-errors-swallowed",
        replaces={"parse_request": '''def parse_request(raw: bytes) -> Request:
    """Never lets an error out: a malformed request just gives None."""
    try:
        head, _, rest = raw.partition(b"\\r\\n\\r\\n")
        request_line, *header_lines = head.decode("latin-1").split("\\r\\n")
        method, target, version = request_line.split(" ")
        headers = []
        for line in header_lines:
            name, value = line.split(":", 1)
            headers.append((name.strip().lower(), value.strip()))
        length = int(dict(headers).get("content-length", 0))
        return Request(method, target, version, headers, rest[:length])
    except Exception:
        return None
'''},
        fails={"test_parse_request_errors": r"should raise ValueError, but it returned None"},
    ),
    # --- build_response ------------------------------------------------------------------------
    WrongAnswer(
        name="response-lf-line-endings",
        replaces={"build_response": '''def build_response(status: int, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    """Ends lines with \\\\n, as on a Unix terminal."""
    lines = [f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\\n".join(lines) + "\\n\\n").encode("latin-1") + body
'''},
        fails={"test_build_response": r"must end with CRLF"},
    ),
    WrongAnswer(
        name="response-no-reason-phrase",
        replaces={"build_response": '''def build_response(status: int, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    """Forgets the reason phrase: `HTTP/1.1 404`."""
    lines = [f"HTTP/1.1 {status}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\\r\\n".join(lines) + "\\r\\n\\r\\n").encode("latin-1") + body
'''},
        fails={"test_build_response": r"reason phrase"},
    ),
    WrongAnswer(
        name="content-length-in-characters",
        replaces={"build_response": '''def build_response(status: int, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    """Builds the response as text and encodes it at the end, so Content-Length counts characters."""
    text = body.decode("utf-8")
    lines = [f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    lines.append(f"Content-Length: {len(text)}")
    return ("\\r\\n".join(lines) + "\\r\\n\\r\\n" + text).encode("utf-8")
'''},
        fails={"test_build_response": r"counts bytes, not characters"},
    ),
    # --- read_request --------------------------------------------------------------------------
    WrongAnswer(
        name="single-recv",
        replaces={"read_request": '''def read_request(sock: socket.socket) -> bytes:
    """Assumes one recv() returns one whole request."""
    return sock.recv(65536)
'''},
        fails={"test_read_request": r"one recv\(\) returns whatever has arrived so far",
               "test_read_request_exact": r"returned more than one request"},
    ),
    WrongAnswer(
        name="recv-4096-swallows-next-request",
        replaces={"read_request": '''def read_request(sock: socket.socket) -> bytes:
    """Reads 4096 bytes at a time and cuts the request out of what it got; the rest is dropped."""
    data = b""
    while b"\\r\\n\\r\\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            return data
        data += chunk
    head, _, rest = data.partition(b"\\r\\n\\r\\n")
    length = 0
    for line in head.split(b"\\r\\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            length = int(value)
    while len(rest) < length:
        chunk = sock.recv(4096)
        if not chunk:
            break
        rest += chunk
    return head + b"\\r\\n\\r\\n" + rest[:length]
'''},
        fails={"test_read_request_exact": r"read \d+ bytes past the end of the request"},
    ),
    WrongAnswer(
        name="read-ignores-content-length",
        replaces={"read_request": '''def read_request(sock: socket.socket) -> bytes:
    """Stops at the empty line: the body is never read."""
    data = b""
    while not data.endswith(b"\\r\\n\\r\\n"):
        byte = sock.recv(1)
        if not byte:
            break
        data += byte
    return data
'''},
        fails={"test_read_request": r"returned the head but not the body"},
    ),
    # --- handle_connection ---------------------------------------------------------------------
    WrongAnswer(
        name="connection-never-closed",
        replaces={"handle_connection": '''def handle_connection(conn: socket.socket) -> None:
    """Answers, but leaves the connection open."""
    raw = read_request(conn)
    if not raw:
        return
    try:
        request = parse_request(raw)
    except ValueError as exc:
        status, body, headers = 400, f"Bad Request: {exc}\\n".encode(), {"Content-Type": "text/plain"}
    else:
        status, body, headers = route(request)
    conn.sendall(build_response(status, body, {**headers, "Connection": "close"}))
'''},
        fails={"test_handle_connection": r"did not close the connection"},
    ),
    WrongAnswer(
        name="no-400-on-malformed-request",
        replaces={"handle_connection": '''def handle_connection(conn: socket.socket) -> None:
    """Trusts every request to be well-formed."""
    with conn:
        raw = read_request(conn)
        if not raw:
            return
        status, body, headers = route(parse_request(raw))
        conn.sendall(build_response(status, body, {**headers, "Connection": "close"}))
'''},
        fails={"test_handle_connection": r"answer 400 Bad Request"},
    ),
    # --- serve_threaded ------------------------------------------------------------------------
    WrongAnswer(
        name="threaded-server-joins-each-thread",
        replaces={"serve_threaded": '''def serve_threaded(listener: socket.socket, handler: Callable[[socket.socket], None] = handle_connection) -> None:
    """Starts a thread per connection, then waits for it before accepting the next."""
    while True:
        try:
            conn, address = listener.accept()
        except OSError:
            return
        thread = threading.Thread(target=handler, args=(conn,), daemon=True)
        thread.start()
        thread.join()
'''},
        fails={"test_serve_threaded": r"served one after another"},
    ),
    WrongAnswer(
        name="accept-loop-never-returns",
        replaces={"serve_threaded": '''def serve_threaded(listener: socket.socket, handler: Callable[[socket.socket], None] = handle_connection) -> None:
    """Keeps the server alive whatever accept() says, even after the listener was closed."""
    while True:
        try:
            conn, address = listener.accept()
        except OSError:
            continue
        threading.Thread(target=handler, args=(conn,), daemon=True).start()
'''},
        fails={"test_serve_threaded_stops": r"kept running after the listener was closed"},
    ),
]
