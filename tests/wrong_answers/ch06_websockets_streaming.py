"""Realistic wrong answers for chapter 06, "WebSockets and streaming"; each must lose the listed points."""

from tests.wrong_answers import RightAnswer, WrongAnswer

ASSIGNMENT = "06-websockets-streaming"

# The solution's ChatRoom, with one method swapped for a wrong one, is how most ChatRoom mistakes are
# written below: a learner gets three methods right and one wrong.
_CHAT_HEAD = '''class ChatRoom:
    """A chat room with one mistake."""

    def __init__(self, max_queue: int = 32) -> None:
        self.max_queue = max_queue
        self.members: dict[str, Member] = {}
'''
_JOIN = '''
    async def join(self, name: str, websocket) -> Member:
        member = Member(websocket, asyncio.Queue(maxsize=self.max_queue))
        member.task = asyncio.create_task(self.deliver(name, member))
        self.members[name] = member
        return member
'''
_DELIVER = '''
    async def deliver(self, name: str, member: Member) -> None:
        try:
            while True:
                message = await member.queue.get()
                await member.websocket.send_text(message)
        except Exception:
            self.members.pop(name, None)
'''
_LEAVE = '''
    async def leave(self, name: str) -> None:
        member = self.members.pop(name, None)
        if member is not None:
            member.task.cancel()
            await asyncio.wait({member.task})
'''
_BROADCAST = '''
    async def broadcast(self, message: str) -> None:
        for name, member in list(self.members.items()):
            try:
                member.queue.put_nowait(message)
            except asyncio.QueueFull:
                del self.members[name]
                member.task.cancel()
'''


def _chat_room(join: str = _JOIN, deliver: str = _DELIVER, leave: str = _LEAVE, broadcast: str = _BROADCAST) -> str:
    return _CHAT_HEAD + join + deliver + leave + broadcast


_ECHO_START = '''async def ws_echo(scope, receive, send) -> None:
    """An echo with one mistake."""
    if scope["type"] != "websocket":
        return
    await receive()
'''

WRONG_ANSWERS = [
    # --- ws_echo --------------------------------------------------------------------------------
    WrongAnswer(
        name="echo-assumes-text",
        replaces={"ws_echo": _ECHO_START + '''    if scope["path"] != "/echo":
        await send({"type": "websocket.close"})
        return
    subprotocol = "echo.v1" if "echo.v1" in scope["subprotocols"] else None
    await send({"type": "websocket.accept", "subprotocol": subprotocol})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        await send({"type": "websocket.send", "text": message.get("text")})
'''},
        fails={"test_ws_echo_messages": r"exactly one of `text` and `bytes`",
               "test_ws_echo_served": r"no message from ws_echo within"},
    ),
    WrongAnswer(
        name="echo-never-ends",
        replaces={"ws_echo": _ECHO_START + '''    if scope["path"] != "/echo":
        await send({"type": "websocket.close"})
        return
    subprotocol = "echo.v1" if "echo.v1" in scope["subprotocols"] else None
    await send({"type": "websocket.accept", "subprotocol": subprotocol})
    while True:
        message = await receive()
        if message.get("text") is not None:
            await send({"type": "websocket.send", "text": message["text"]})
        elif message.get("bytes") is not None:
            await send({"type": "websocket.send", "bytes": message["bytes"]})
'''},
        fails={"test_ws_echo_messages": r"called receive\(\) again after websocket\.disconnect",
               "test_ws_echo_served": r"called receive\(\) again after websocket\.disconnect"},
    ),
    WrongAnswer(
        name="echo-accepts-then-closes",
        replaces={"ws_echo": _ECHO_START + '''    subprotocol = "echo.v1" if "echo.v1" in scope["subprotocols"] else None
    await send({"type": "websocket.accept", "subprotocol": subprotocol})
    if scope["path"] != "/echo":
        await send({"type": "websocket.close", "code": 1008, "reason": "no such path"})
        return
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") is not None:
            await send({"type": "websocket.send", "text": message["text"]})
        else:
            await send({"type": "websocket.send", "bytes": message["bytes"]})
'''},
        fails={"test_ws_echo_messages": r"should refuse the connection by sending \{'type': 'websocket.close'\} before accepting",
               "test_ws_echo_served": r"could open a WebSocket on /elsewhere"},
    ),
    # --- ChatRoom -------------------------------------------------------------------------------
    WrongAnswer(
        name="room-awaits-queue-put",
        replaces={"ChatRoom": _chat_room(broadcast='''
    async def broadcast(self, message: str) -> None:
        for member in list(self.members.values()):
            await member.queue.put(message)  # a bounded queue, but put() waits while it is full
''')},
        fails={"test_chat_room_slow_member": r"broadcast waited for a member that stopped reading.*put_nowait"},
    ),
    WrongAnswer(
        name="room-unbounded-queue",
        replaces={"ChatRoom": _chat_room(join='''
    async def join(self, name: str, websocket) -> Member:
        member = Member(websocket, asyncio.Queue())
        member.task = asyncio.create_task(self.deliver(name, member))
        self.members[name] = member
        return member
''')},
        fails={"test_chat_room_slow_member": r"it is unbounded"},
    ),
    WrongAnswer(
        name="room-drops-while-iterating",
        replaces={"ChatRoom": _chat_room(broadcast='''
    async def broadcast(self, message: str) -> None:
        for name, member in self.members.items():
            try:
                member.queue.put_nowait(message)
            except asyncio.QueueFull:
                del self.members[name]
                member.task.cancel()
''')},
        fails={"test_chat_room_slow_member": r"dictionary changed size during iteration.*loop over a copy"},
    ),
    WrongAnswer(
        name="room-leave-forgets-the-task",
        replaces={"ChatRoom": _chat_room(leave='''
    async def leave(self, name: str) -> None:
        self.members.pop(name, None)
''')},
        fails={"test_chat_room": r"bob's task was still running",
               "test_chat_served": r"task was still running|tasks were still running"},
    ),
    WrongAnswer(
        name="room-task-per-message",
        replaces={"ChatRoom": _chat_room(broadcast='''
    async def broadcast(self, message: str) -> None:
        for member in list(self.members.values()):
            asyncio.create_task(member.websocket.send_text(message))  # never waits for anyone
''')},
        fails={"test_chat_room": r"not in the order they were said"},
    ),
    WrongAnswer(
        name="room-dead-member-stays",
        replaces={"ChatRoom": _chat_room(deliver='''
    async def deliver(self, name: str, member: Member) -> None:
        while True:
            message = await member.queue.get()
            await member.websocket.send_text(message)
''')},
        fails={"test_chat_room": r"carl was still in room\.members"},
    ),
    # --- sse_event ------------------------------------------------------------------------------
    WrongAnswer(
        name="sse-one-data-line",
        replaces={"sse_event": '''def sse_event(data: str, id: int | str | None = None, event: str | None = None) -> str:
    """The whole payload on one data line."""
    text = ""
    if event is not None:
        text += f"event: {event}\\n"
    text += f"data: {data}\\n"
    if id is not None:
        text += f"id: {id}\\n"
    return text + "\\n"
'''},
        fails={"test_sse_event": r"in its own 'data: \.\.\.' line"},
    ),
    # --- make_token_app -------------------------------------------------------------------------
    WrongAnswer(
        name="tokens-buffered",
        replaces={"make_token_app": '''from fastapi import Response


def make_token_app(model: TokenModel) -> FastAPI:
    """Formats every event right, but sends them all at the end."""
    app = FastAPI()

    @app.get("/tokens")
    async def tokens(request: Request, prompt: str = "ASGI"):
        skip = int(request.headers.get("last-event-id", "0"))
        events = [token async for token in model.generate(prompt)]
        body = "".join(sse_event(token, id=n) for n, token in enumerate(events, 1) if n > skip)
        body += sse_event("[DONE]", event="done")
        return Response(body, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    return app
'''},
        fails={"test_token_stream": r"all at once, at the end",
               "test_token_stream_disconnect": r"ended \['finished'\]: it should stop"},
    ),
    WrongAnswer(
        name="tokens-producer-task-outlives-client",
        replaces={"make_token_app": '''def make_token_app(model: TokenModel) -> FastAPI:
    """Streams from a queue that a background task fills: the task carries on after the client leaves."""
    app = FastAPI()

    @app.get("/tokens")
    async def tokens(request: Request, prompt: str = "ASGI"):
        skip = int(request.headers.get("last-event-id", "0"))
        queue = asyncio.Queue()

        async def produce():
            async for token in model.generate(prompt):
                await queue.put(token)
            await queue.put(None)

        async def events():
            asyncio.create_task(produce())
            n = 0
            while (token := await queue.get()) is not None:
                n += 1
                if n > skip:
                    yield sse_event(token, id=n)
            yield sse_event("[DONE]", event="done")

        return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    return app
'''},
        fails={"test_token_stream_disconnect": r"it should stop"},
    ),
]

RIGHT_ANSWERS = [
    RightAnswer(
        # The same behaviour written another way: `match` on message types and both keys sent in an
        # echo, a ChatRoom whose broadcast drops through leave() and whose task removes itself by
        # identity, sse_event with the id first, and FastAPI's own EventSourceResponse.
        name="written-differently",
        replaces={
            "ws_echo": '''async def ws_echo(scope, receive, send) -> None:
    """Echo, written with match statements."""
    if scope["type"] != "websocket":
        return
    while True:
        message = await receive()
        match message["type"]:
            case "websocket.connect" if scope["path"] == "/echo":
                chosen = next((p for p in scope.get("subprotocols", []) if p == "echo.v1"), None)
                await send({"type": "websocket.accept", "subprotocol": chosen, "headers": []})
            case "websocket.connect":
                await send({"type": "websocket.close", "code": 1008})
                return
            case "websocket.receive":
                await send({"type": "websocket.send", "text": message.get("text"), "bytes": message.get("bytes")})
            case "websocket.disconnect":
                return
''',
            "ChatRoom": _CHAT_HEAD + '''
    async def join(self, name: str, websocket) -> Member:
        queue = asyncio.Queue(self.max_queue)
        self.members[name] = member = Member(websocket=websocket, queue=queue)
        member.task = asyncio.get_running_loop().create_task(self.deliver(name, member), name=f"chat:{name}")
        return member

    async def deliver(self, name: str, member: Member) -> None:
        while True:
            message = await member.queue.get()
            try:
                await member.websocket.send_text(message)
            except (WebSocketDisconnect, RuntimeError, OSError):
                break
        if self.members.get(name) is member:
            self.members.pop(name)

    async def leave(self, name: str) -> None:
        if name not in self.members:
            return
        member = self.members.pop(name)
        member.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await member.task

    async def broadcast(self, message: str) -> None:
        too_slow = []
        for name, member in self.members.items():
            if member.queue.full():
                too_slow.append(name)
            else:
                member.queue.put_nowait(message)
        for name in too_slow:
            await self.leave(name)
''',
            "sse_event": '''def sse_event(data: str, id: int | str | None = None, event: str | None = None) -> str:
    """Id first, then the event type, then the data lines."""
    head = []
    for name, value in (("id", id), ("event", event)):
        if value is None:
            continue
        value = str(value)
        if "\\n" in value or "\\r" in value:
            raise ValueError(f"the {name} {value!r} would break the event stream")
        head.append(f"{name}: {value}\\r\\n")
    body = "".join(f"data: {line}\\r\\n" for line in data.replace("\\r\\n", "\\n").replace("\\r", "\\n").split("\\n"))
    return "".join(head) + body + "\\r\\n"
''',
            "make_token_app": '''from fastapi.sse import EventSourceResponse, ServerSentEvent


def make_token_app(model: TokenModel) -> FastAPI:
    """FastAPI's own Server-Sent Events."""
    app = FastAPI()

    @app.get("/tokens", response_class=EventSourceResponse)
    async def tokens(request: Request, prompt: str = "ASGI"):
        last = request.headers.get("last-event-id")
        start = int(last) + 1 if last and last.isdigit() else 1
        n = 0
        async for token in model.generate(prompt):
            n += 1
            if n >= start:
                yield ServerSentEvent(raw_data=token, id=str(n))
        yield ServerSentEvent(raw_data="[DONE]", event="done")

    return app
''',
        },
    ),
]
