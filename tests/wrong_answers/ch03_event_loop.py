"""Realistic wrong answers for chapter 03, "the event loop"; each must lose the listed points.

The five exercises are graded independently (each test uses its own reference objects), so to keep
the suite fast most submissions below carry two unrelated mistakes, in two different exercises: each
is rejected by its own test cells with its own message, and the other exercises keep their points.
"""

from tests.wrong_answers import RightAnswer, WrongAnswer

ASSIGNMENT = "03-event-loop"

# --- pieces shared by several wrong answers ---------------------------------------------------

SLEEP_TIME_SLEEP = '''def sleep(delay: float):
    """Waits the way a script does, then lets the others have a turn."""
    time.sleep(delay)
    yield from yield_now()
'''

SLEEP_LIST_APPEND = '''def sleep(delay: float):
    """Puts the task on the sleeping list, but as a plain list, not a heap."""
    loop = running_loop()
    loop.sleeping.append((loop.clock() + delay, next(loop.seq), loop.current))
    yield
'''

SLEEP_PUSHES_DELAY = '''def sleep(delay: float):
    """Pushes the delay itself, not the time to wake up at."""
    loop = running_loop()
    heapq.heappush(loop.sleeping, (delay, next(loop.seq), loop.current))
    yield
'''

WAIT_NEVER_UNREGISTERS = '''def wait_readable(sock: socket.socket):
    """Registers and yields, but leaves the socket on the selector."""
    loop = running_loop()
    loop.selector.register(sock, selectors.EVENT_READ, loop.current)
    yield


def wait_writable(sock: socket.socket):
    """Registers and yields, but leaves the socket on the selector."""
    loop = running_loop()
    loop.selector.register(sock, selectors.EVENT_WRITE, loop.current)
    yield
'''

WAIT_WRITABLE_FOR_READ = '''def wait_readable(sock: socket.socket):
    """Right."""
    loop = running_loop()
    loop.selector.register(sock, selectors.EVENT_READ, loop.current)
    yield
    loop.selector.unregister(sock)


def wait_writable(sock: socket.socket):
    """Copied from wait_readable, and the event was not changed."""
    loop = running_loop()
    loop.selector.register(sock, selectors.EVENT_READ, loop.current)
    yield
    loop.selector.unregister(sock)
'''

WAIT_BUSY_POLLS = '''import select


def wait_readable(sock: socket.socket):
    """Asks the socket again on every turn until it is readable: a busy wait."""
    while not select.select([sock], [], [], 0)[0]:
        yield from yield_now()


def wait_writable(sock: socket.socket):
    """Asks the socket again on every turn until it is writable: a busy wait."""
    while not select.select([], [sock], [], 0)[1]:
        yield from yield_now()
'''

GATHER_ONE_AFTER_ANOTHER = '''def gather(*coros) -> list:
    """Runs each generator to the end in turn, inside the current task."""
    results = []
    for coro in coros:
        results.append((yield from coro))
    return results
'''

GATHER_COMPLETION_ORDER = '''def gather(*coros) -> list:
    """Spawns them all, then collects each result as soon as its task is done."""
    loop = running_loop()
    pending = [loop.spawn(coro) for coro in coros]
    results = []
    while pending:
        for task in list(pending):
            if task.done:
                results.append(task.result)
                pending.remove(task)
        if pending:
            yield from yield_now()
    return results
'''

GATHER_WAITS_FOR_LAST_ONLY = '''def gather(*coros) -> list:
    """Waits for the task started last, assuming it finishes last."""
    loop = running_loop()
    tasks = [loop.spawn(coro) for coro in coros]
    if tasks:
        tasks[-1].waiters.append(loop.current)
        yield
    return [task.result for task in tasks]
'''

FETCH_ALL_NO_LIMIT = '''async def fetch_all(urls: list[str], limit: int, timeout: float = 1.0) -> list[str | None]:
    """Everything at once: the limit is never used."""
    async with httpx.AsyncClient(timeout=timeout) as client:
        async def fetch(url):
            try:
                return (await client.get(url)).text
            except httpx.HTTPError:
                return None

        return list(await asyncio.gather(*(fetch(url) for url in urls)))
'''

FETCH_ALL_COMPLETION_ORDER = '''async def fetch_all(urls: list[str], limit: int, timeout: float = 1.0) -> list[str | None]:
    """Limited and with timeouts, but collects the bodies as they arrive."""
    slots = asyncio.Semaphore(limit)
    async with httpx.AsyncClient() as client:
        async def fetch(url):
            async with slots:
                try:
                    return (await asyncio.wait_for(client.get(url), timeout)).text
                except (httpx.HTTPError, TimeoutError):
                    return None

        return [await next_done for next_done in asyncio.as_completed([fetch(url) for url in urls])]
'''

FETCH_ALL_BATCHES = '''async def fetch_all(urls: list[str], limit: int, timeout: float = 1.0) -> list[str | None]:
    """`limit` requests at a time, in batches: each batch waits for its slowest request."""
    async with httpx.AsyncClient(timeout=timeout) as client:
        async def fetch(url):
            try:
                return (await client.get(url)).text
            except httpx.HTTPError:
                return None

        results = []
        for start in range(0, len(urls), limit):
            results += await asyncio.gather(*(fetch(url) for url in urls[start:start + limit]))
        return results
'''

FETCH_ALL_NO_TIMEOUT = '''async def fetch_all(urls: list[str], limit: int, timeout: float = 1.0) -> list[str | None]:
    """Limited, in order, but never gives up on a slow request (httpx's default is 5 s)."""
    slots = asyncio.Semaphore(limit)
    async with httpx.AsyncClient() as client:
        async def fetch(url):
            async with slots:
                try:
                    return (await client.get(url)).text
                except httpx.HTTPError:
                    return None

        return list(await asyncio.gather(*(fetch(url) for url in urls)))
'''

FETCH_ALL_TIMEOUT_INCLUDES_QUEUE = '''async def fetch_all(urls: list[str], limit: int, timeout: float = 1.0) -> list[str | None]:
    """Starts each request's clock before it waits for a free slot."""
    slots = asyncio.Semaphore(limit)
    async with httpx.AsyncClient() as client:
        async def fetch(url):
            try:
                async with asyncio.timeout(timeout):
                    async with slots:
                        return (await client.get(url)).text
            except (httpx.HTTPError, TimeoutError):
                return None

        return list(await asyncio.gather(*(fetch(url) for url in urls)))
'''


def _shop(price_of: str, quote: str, report: str) -> str:
    """make_fixed_shop with the given helper and endpoints, the rest as in make_shop."""
    return f'''def make_fixed_shop(pricing_url: str) -> FastAPI:
    """The shop from make_shop, answering the same JSON, without blocking the event loop."""
    shop = FastAPI(title="shop")
    stock = {{"apple": 3, "pear": 0, "fig": 12}}

{price_of}
    @shop.get("/health")
    async def health():
        return {{"ok": True}}

    @shop.get("/stock/{{item}}")
    async def get_stock(item: str):
        await asyncio.sleep(0.05)  # the database
        return {{"item": item, "in_stock": stock.get(item, 0)}}

{quote}
{report}
    return shop
'''


PRICE_OF_ASYNC_BUT_SYNC_CLIENT = '''    async def price_of(item: str) -> float:  # async def now... around the same sync client
        response = httpx.get(f"{pricing_url}/price/{item}", timeout=2)
        response.raise_for_status()
        return response.json()["price"]
'''

PRICE_OF_ASYNC_CLIENT = '''    async def price_of(item: str) -> float:
        async with httpx.AsyncClient(timeout=2) as client:
            response = await client.get(f"{pricing_url}/price/{item}")
        response.raise_for_status()
        return response.json()["price"]
'''

PRICE_OF_TO_THREAD = '''    async def price_of(item: str) -> float:
        response = await asyncio.to_thread(httpx.get, f"{pricing_url}/price/{item}", timeout=2)
        response.raise_for_status()
        return response.json()["price"]
'''

QUOTE_AWAITED = '''    @shop.get("/quote/{item}")
    async def quote(item: str, quantity: int = 1):
        price = await price_of(item)
        return {"item": item, "quantity": quantity, "total": round(price * quantity, 2)}
'''

QUOTE_NOT_AWAITED = '''    @shop.get("/quote/{item}")
    async def quote(item: str, quantity: int = 1):
        price = price_of(item)  # price_of is a coroutine function now
        return {"item": item, "quantity": quantity, "total": round(price * quantity, 2)}
'''

REPORT_DEF = '''    @shop.get("/report")
    def report():
        time.sleep(0.1)  # a slow, synchronous report
        return {"items": len(stock), "in_stock": sum(1 for n in stock.values() if n)}
'''

REPORT_MADE_ASYNC = '''    @shop.get("/report")
    async def report():  # "everything async" -- but the sleep still blocks
        time.sleep(0.1)
        return {"items": len(stock), "in_stock": sum(1 for n in stock.values() if n)}
'''

WRONG_ANSWERS = [
    WrongAnswer(
        name="sleep-time-sleep--fetch-all-no-limit",
        replaces={"sleep": SLEEP_TIME_SLEEP, "fetch_all": FETCH_ALL_NO_LIMIT},
        fails={"test_sleep": r"sleep blocked the whole loop.*held the thread.*Don't call time\.sleep",
               "test_fetch_all_limit": r"with limit=2 the server had 4 requests in flight.*Semaphore"},
    ),
    WrongAnswer(
        name="sleep-list-append--shop-async-helper-still-sync",
        replaces={"sleep": SLEEP_LIST_APPEND,
                  "make_fixed_shop": _shop(PRICE_OF_ASYNC_BUT_SYNC_CLIENT, QUOTE_AWAITED, REPORT_DEF)},
        fails={"test_sleep": r"B \(0\.05 s\) should wake first.*heapq\.heappush",
               "test_fixed_shop_concurrent": r"still blocks the event loop.*making the helper `async def` is not "
                                             r"enough"},
    ),
    WrongAnswer(
        name="sleep-pushes-delay--fetch-all-completion-order",
        replaces={"sleep": SLEEP_PUSHES_DELAY, "fetch_all": FETCH_ALL_COMPLETION_ORDER},
        fails={"test_sleep": r"woke too early.*loop\.clock\(\) \+ delay",
               "test_fetch_all": r"in the order the requests finished.*order of urls"},
    ),
    WrongAnswer(
        name="wait-never-unregisters--gather-one-after-another",
        replaces={"wait_socket": WAIT_NEVER_UNREGISTERS, "gather": GATHER_ONE_AFTER_ANOTHER},
        fails={"test_wait_readable": r"still registered with the loop's selector.*loop\.selector\.unregister",
               "test_wait_writable": r"still registered with the loop's selector.*loop\.selector\.unregister",
               "test_gather": r"children ran one after another.*spawn them all"},
    ),
    WrongAnswer(
        name="wait-writable-for-read--fetch-all-batches",
        replaces={"wait_socket": WAIT_WRITABLE_FOR_READ, "fetch_all": FETCH_ALL_BATCHES},
        fails={"test_wait_writable": r"waited for something that never happened.*EVENT_WRITE \(not EVENT_READ\)",
               "test_fetch_all_limit": r"only \d of the 5 short ones started.*batches"},
    ),
    WrongAnswer(
        name="wait-busy-polls--gather-completion-order",
        replaces={"wait_socket": WAIT_BUSY_POLLS, "gather": GATHER_COMPLETION_ORDER},
        fails={"test_wait_readable": r"stepped \d+ times instead of 2: wait_readable busy-waited",
               "test_wait_writable": r"loop\.trace should be .*no polling",
               "test_gather": r"in the order the children finished"},
    ),
    WrongAnswer(
        name="gather-waits-for-last-only--fetch-all-no-timeout",
        replaces={"gather": GATHER_WAITS_FOR_LAST_ONLY, "fetch_all": FETCH_ALL_NO_TIMEOUT},
        fails={"test_gather": r"some children were not done yet.*not only the first or the last",
               "test_fetch_all": r"with timeout=0\.2, fetch_all took [\d.]+ s"},
    ),
    WrongAnswer(
        name="fetch-all-timeout-counts-queue--shop-report-made-async",
        replaces={"fetch_all": FETCH_ALL_TIMEOUT_INCLUDES_QUEUE,
                  "make_fixed_shop": _shop(PRICE_OF_ASYNC_CLIENT, QUOTE_AWAITED, REPORT_MADE_ASYNC)},
        fails={"test_fetch_all_limit": r"waiting for a free slot does not count",
               "test_fixed_shop_concurrent": r"/report now blocks the loop.*Leave it a `def`"},
    ),
    WrongAnswer(
        name="shop-forgot-await",
        replaces={"make_fixed_shop": _shop(PRICE_OF_ASYNC_CLIENT, QUOTE_NOT_AWAITED, REPORT_DEF)},
        fails={"test_fixed_shop_answers": r"answered 500.*forget an `await`",
               "test_fixed_shop_concurrent": r"GET /quote answered 500"},
    ),
]

RIGHT_ANSWERS = [
    RightAnswer(
        # Every exercise written another way: a sleep that names its parts, one helper for both
        # waits, a gather that re-parks on whichever child is still running, fetch_all with a
        # TaskGroup, asyncio.wait_for and the client's own timeout, and the shop fixed with
        # asyncio.to_thread around the unchanged sync client.
        name="written-differently",
        replaces={
            "sleep": '''def sleep(delay: float):
    """Park on the timer heap until `delay` seconds from now."""
    loop = running_loop()
    wake_at = loop.clock() + delay
    entry = (wake_at, next(loop.seq), loop.current)
    heapq.heappush(loop.sleeping, entry)
    yield
''',
            "wait_socket": '''def _wait(sock, events):
    loop = running_loop()
    key = loop.selector.register(sock, events, data=loop.current)
    try:
        yield
    finally:
        loop.selector.unregister(key.fileobj)


def wait_readable(sock: socket.socket):
    """Pause until `sock` is readable."""
    return (yield from _wait(sock, selectors.EVENT_READ))


def wait_writable(sock: socket.socket):
    """Pause until `sock` is writable."""
    return (yield from _wait(sock, selectors.EVENT_WRITE))
''',
            "gather": '''def gather(*coros) -> list:
    """Spawn them all; sleep on whichever is still running until none is; results in order."""
    loop = running_loop()
    me = loop.current
    tasks = [loop.spawn(c, f"child {i}") for i, c in enumerate(coros)]
    while True:
        running = [t for t in tasks if not t.done]
        if not running:
            break
        running[0].waiters.append(me)
        yield
    failed = next((t for t in tasks if t.error is not None), None)
    if failed is not None:
        raise failed.error
    return [t.result for t in tasks]
''',
            "fetch_all": '''async def fetch_all(urls: list[str], limit: int, timeout: float = 1.0) -> list[str | None]:
    """A TaskGroup of guarded fetches; each request bounded by wait_for once it has a slot."""
    results: list[str | None] = [None] * len(urls)
    gate = asyncio.Semaphore(limit)

    async def one(i: int, url: str, client: httpx.AsyncClient) -> None:
        async with gate:
            try:
                response = await asyncio.wait_for(client.get(url), timeout=timeout)
            except Exception:
                return
            results[i] = response.text

    async with httpx.AsyncClient(timeout=timeout) as client, asyncio.TaskGroup() as group:
        for i, url in enumerate(urls):
            group.create_task(one(i, url, client))
    return results
''',
            "make_fixed_shop": _shop(PRICE_OF_TO_THREAD, QUOTE_AWAITED, REPORT_DEF),
        },
    ),
    RightAnswer(
        # The fix most learners write first: a new AsyncClient for every price request. It costs
        # the loop ~30 ms per request (the chapter says why), but no longer blocks while waiting.
        name="shop-async-client-per-request",
        replaces={"make_fixed_shop": _shop(PRICE_OF_ASYNC_CLIENT, QUOTE_AWAITED, REPORT_DEF)},
    ),
]
