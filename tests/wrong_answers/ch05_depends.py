"""Realistic wrong answers for chapter 05, "Depends is a resolution graph"; each must lose the listed points."""

from tests.wrong_answers import RightAnswer, WrongAnswer

ASSIGNMENT = "05-depends"

# The parts of call_with_dependencies that most wrong answers below share with the solution.
_CALL_ENDPOINT = '''
        if inspect.iscoroutinefunction(endpoint):
            return await endpoint(**kwargs)
        return await asyncio.to_thread(endpoint, **kwargs)
'''

WRONG_ANSWERS = [
    # --- dependencies_of -----------------------------------------------------------------------
    WrongAnswer(
        name="isinstance-of-fastapi-Depends-function",
        replaces={"dependencies_of": '''def dependencies_of(fn) -> list[tuple[str, params.Depends]]:
    """Tests each default against Depends, the name one writes in signatures (a function, not a class)."""
    return [(name, parameter.default) for name, parameter in inspect.signature(fn).parameters.items()
            if isinstance(parameter.default, Depends)]
'''},
        fails={"test_dependencies_of": r"fastapi\.Depends is a function that makes the marker"},
    ),
    # --- resolve -------------------------------------------------------------------------------
    WrongAnswer(
        name="resolve-calls-def-on-the-loop",
        replaces={"resolve": '''async def resolve(fn, cache: dict) -> dict:
    """Calls plain functions directly: they look quick, so why bother with a thread?"""
    values = {}
    for name, marker in dependencies_of(fn):
        dependency = marker.dependency
        kwargs = await resolve(dependency, cache)
        if marker.use_cache and dependency in cache:
            value = cache[dependency]
        elif inspect.iscoroutinefunction(dependency):
            value = await dependency(**kwargs)
        else:
            value = dependency(**kwargs)
        cache.setdefault(dependency, value)
        values[name] = value
    return values
'''},
        fails={"test_resolve_order": r"ran load_config on the event loop, FastAPI in a worker thread",
               "test_resolve_cache": r"on the event loop, FastAPI in a worker thread"},
    ),
    WrongAnswer(
        name="resolve-passes-arguments-by-position",
        replaces={"resolve": '''async def resolve(fn, cache: dict) -> dict:
    """Passes the resolved values in declaration order, by position."""
    values = {}
    for name, marker in dependencies_of(fn):
        dependency = marker.dependency
        kwargs = await resolve(dependency, cache)
        if marker.use_cache and dependency in cache:
            value = cache[dependency]
        elif inspect.iscoroutinefunction(dependency):
            value = await dependency(*kwargs.values())
        else:
            value = await asyncio.to_thread(dependency, *kwargs.values())
        cache.setdefault(dependency, value)
        values[name] = value
    return values
'''},
        fails={"test_resolve_order": r"with keyword arguments, fn\(\*\*kwargs\)"},
    ),
    WrongAnswer(
        name="resolve-ignores-use-cache",
        replaces={"resolve": '''async def resolve(fn, cache: dict) -> dict:
    """Caches everything: a value in the cache is always reused."""
    values = {}
    for name, marker in dependencies_of(fn):
        dependency = marker.dependency
        kwargs = await resolve(dependency, cache)
        if dependency in cache:
            value = cache[dependency]
        elif inspect.iscoroutinefunction(dependency):
            value = await dependency(**kwargs)
        else:
            value = await asyncio.to_thread(dependency, **kwargs)
        cache[dependency] = value
        values[name] = value
    return values
'''},
        fails={"test_resolve_cache": r"FastAPI called request_id 2 times, resolve 1.*use_cache=False\) calls it every time"},
    ),
    WrongAnswer(
        name="resolve-looks-in-the-cache-first",
        replaces={"resolve": '''async def resolve(fn, cache: dict) -> dict:
    """Looks in the cache before resolving anything: why resolve the branch of a cached dependency?"""
    values = {}
    for name, marker in dependencies_of(fn):
        dependency = marker.dependency
        if marker.use_cache and dependency in cache:
            values[name] = cache[dependency]
            continue
        kwargs = await resolve(dependency, cache)
        if inspect.iscoroutinefunction(dependency):
            value = await dependency(**kwargs)
        else:
            value = await asyncio.to_thread(dependency, **kwargs)
        cache.setdefault(dependency, value)
        values[name] = value
    return values
'''},
        fails={"test_resolve_cache": r"resolves a dependency's own dependencies before it looks the dependency up"},
    ),
    # --- enter_dependency ----------------------------------------------------------------------
    WrongAnswer(
        name="enter-resumes-generators-without-the-exception",
        replaces={"enter_dependency": '''async def enter_dependency(fn, kwargs: dict, stack: contextlib.AsyncExitStack):
    """Runs a generator to its yield, and at the end resumes it with next()/anext(): the teardown runs, blind."""
    if inspect.isasyncgenfunction(fn):
        generator = fn(**kwargs)
        value = await anext(generator)
        stack.push_async_callback(anext, generator, None)
        return value
    if inspect.isgeneratorfunction(fn):
        generator = fn(**kwargs)
        value = await asyncio.to_thread(next, generator)
        stack.push_async_callback(asyncio.to_thread, next, generator, None)
        return value
    if inspect.iscoroutinefunction(fn):
        return await fn(**kwargs)
    return await asyncio.to_thread(fn, **kwargs)
'''},
        fails={"test_enter_dependency": r"thrown into each generator at its yield",
               "test_call_exceptions": r"teardown saw None, but in FastAPI it sees Boom"},
    ),
    # --- call_with_dependencies ----------------------------------------------------------------
    WrongAnswer(
        name="call-without-cache",
        replaces={"call_with_dependencies": '''async def call_with_dependencies(endpoint, *, overrides: dict | None = None):
    """Calls every dependency wherever it is declared: no cache at all."""
    overrides = overrides or {}

    async def solve(fn, stack):
        values = {}
        for name, marker in dependencies_of(fn):
            actual = overrides.get(marker.dependency, marker.dependency)
            values[name] = await enter_dependency(actual, await solve(actual, stack), stack)
        return values

    async with contextlib.AsyncExitStack() as stack:
        kwargs = await solve(endpoint, stack)''' + _CALL_ENDPOINT},
        fails={"test_call_with_dependencies": r"called get_\w+ \d times, FastAPI 1: within one request a dependency runs once.*per-request cache",
               "test_call_random_graphs": r"per-request cache"},
    ),
    WrongAnswer(
        name="call-keeps-the-cache-across-requests",
        replaces={"call_with_dependencies": '''CACHE: dict = {}  # settings, sessions...: computed once, reused ever after


async def call_with_dependencies(endpoint, *, overrides: dict | None = None):
    """One cache for the life of the process."""
    overrides = overrides or {}

    async def solve(fn, stack):
        values = {}
        for name, marker in dependencies_of(fn):
            original = marker.dependency
            actual = overrides.get(original, original)
            kwargs = await solve(actual, stack)
            if marker.use_cache and original in CACHE:
                value = CACHE[original]
            else:
                value = await enter_dependency(actual, kwargs, stack)
            CACHE.setdefault(original, value)
            values[name] = value
        return values

    async with contextlib.AsyncExitStack() as stack:
        kwargs = await solve(endpoint, stack)''' + _CALL_ENDPOINT},
        fails={"test_call_with_dependencies": r"in request 2, call_with_dependencies called no dependency at all.*empty cache",
               "test_call_random_graphs": r"empty cache"},
    ),
    WrongAnswer(
        name="call-tears-down-first-in-first-out",
        replaces={"call_with_dependencies": '''async def call_with_dependencies(endpoint, *, overrides: dict | None = None):
    """Keeps its own list of open generators, and closes them in the order they were opened."""
    overrides = overrides or {}
    cache: dict = {}
    opened = []

    async def call_one(fn, kwargs):
        if inspect.isasyncgenfunction(fn):
            manager = contextlib.asynccontextmanager(fn)(**kwargs)
            opened.append(manager)
            return await manager.__aenter__()
        if inspect.isgeneratorfunction(fn):
            manager = contextlib.contextmanager(fn)(**kwargs)
            opened.append(manager)
            return await asyncio.to_thread(manager.__enter__)
        if inspect.iscoroutinefunction(fn):
            return await fn(**kwargs)
        return await asyncio.to_thread(fn, **kwargs)

    async def solve(fn):
        values = {}
        for name, marker in dependencies_of(fn):
            original = marker.dependency
            actual = overrides.get(original, original)
            kwargs = await solve(actual)
            if marker.use_cache and original in cache:
                value = cache[original]
            else:
                value = await call_one(actual, kwargs)
            cache.setdefault(original, value)
            values[name] = value
        return values

    error = None
    try:
        kwargs = await solve(endpoint)
        if inspect.iscoroutinefunction(endpoint):
            return await endpoint(**kwargs)
        return await asyncio.to_thread(endpoint, **kwargs)
    except Exception as exc:
        error = exc
        raise
    finally:
        details = (type(error), error, error.__traceback__) if error else (None, None, None)
        for manager in opened:
            if hasattr(manager, "__aexit__"):
                await manager.__aexit__(*details)
            else:
                await asyncio.to_thread(manager.__exit__, *details)
'''},
        fails={"test_call_with_dependencies": r"tore down in the order \['get_session', 'audit_trail'\].*last in, first out"},
    ),
    WrongAnswer(
        name="call-skips-teardown-when-the-endpoint-raises",
        replaces={"call_with_dependencies": '''async def call_with_dependencies(endpoint, *, overrides: dict | None = None):
    """Closes the stack after the endpoint has returned; an exception skips that line."""
    overrides = overrides or {}
    cache: dict = {}

    async def solve(fn, stack):
        values = {}
        for name, marker in dependencies_of(fn):
            original = marker.dependency
            actual = overrides.get(original, original)
            kwargs = await solve(actual, stack)
            if marker.use_cache and original in cache:
                value = cache[original]
            else:
                value = await enter_dependency(actual, kwargs, stack)
            cache.setdefault(original, value)
            values[name] = value
        return values

    stack = contextlib.AsyncExitStack()
    kwargs = await solve(endpoint, stack)
    if inspect.iscoroutinefunction(endpoint):
        result = await endpoint(**kwargs)
    else:
        result = await asyncio.to_thread(endpoint, **kwargs)
    await stack.aclose()
    return result
'''},
        fails={"test_call_exceptions": r"when the endpoint raised.*also when the endpoint or a dependency raises"},
    ),
    WrongAnswer(
        name="call-caches-overrides-under-their-own-name",
        replaces={"call_with_dependencies": '''async def call_with_dependencies(endpoint, *, overrides: dict | None = None):
    """Caches the function it actually called, the stand-in, rather than the one declared."""
    overrides = overrides or {}
    cache: dict = {}

    async def solve(fn, stack):
        values = {}
        for name, marker in dependencies_of(fn):
            actual = overrides.get(marker.dependency, marker.dependency)
            kwargs = await solve(actual, stack)
            if marker.use_cache and actual in cache:
                value = cache[actual]
            else:
                value = await enter_dependency(actual, kwargs, stack)
            cache.setdefault(actual, value)
            values[name] = value
        return values

    async with contextlib.AsyncExitStack() as stack:
        kwargs = await solve(endpoint, stack)''' + _CALL_ENDPOINT},
        fails={"test_call_overrides": r"FastAPI called in_memory 2 times.*caches an override under the dependency it replaces"},
    ),
    WrongAnswer(
        name="call-tears-down-before-the-endpoint",
        replaces={"call_with_dependencies": '''async def call_with_dependencies(endpoint, *, overrides: dict | None = None):
    """Uses each yield dependency in its own with-block, as one uses any context manager."""
    overrides = overrides or {}
    cache: dict = {}

    async def call_one(fn, kwargs):
        if inspect.isasyncgenfunction(fn):
            async with contextlib.asynccontextmanager(fn)(**kwargs) as value:
                return value
        if inspect.isgeneratorfunction(fn):
            def enter():
                with contextlib.contextmanager(fn)(**kwargs) as value:
                    return value
            return await asyncio.to_thread(enter)
        if inspect.iscoroutinefunction(fn):
            return await fn(**kwargs)
        return await asyncio.to_thread(fn, **kwargs)

    async def solve(fn):
        values = {}
        for name, marker in dependencies_of(fn):
            original = marker.dependency
            actual = overrides.get(original, original)
            kwargs = await solve(actual)
            if marker.use_cache and original in cache:
                value = cache[original]
            else:
                value = await call_one(actual, kwargs)
            cache.setdefault(original, value)
            values[name] = value
        return values

    kwargs = await solve(endpoint)
    if inspect.iscoroutinefunction(endpoint):
        return await endpoint(**kwargs)
    return await asyncio.to_thread(endpoint, **kwargs)
'''},
        fails={"test_call_with_dependencies": r"tore down \['get_session', 'audit_trail'\] before the endpoint ran"},
    ),
]

RIGHT_ANSWERS = [
    RightAnswer(
        # The same behaviour written another way: a loop over signature values, a resolver with an
        # explicit kind dispatch, FastAPI's own thread-pool helpers, and a call_with_dependencies that
        # does not reuse enter_dependency and keeps its cache in a closure over a separate class.
        name="written-with-fastapi-concurrency-helpers",
        replaces={
            "dependencies_of": '''def dependencies_of(fn) -> list[tuple[str, params.Depends]]:
    """The (parameter name, Depends marker) pairs of `fn`, in declaration order."""
    found = []
    for parameter in inspect.signature(fn).parameters.values():
        if isinstance(parameter.default, params.Depends):
            found.append((parameter.name, parameter.default))
    return found
''',
            "resolve": '''from fastapi.concurrency import run_in_threadpool


async def resolve(fn, cache: dict) -> dict:
    """The keyword arguments to call `fn` with: its dependencies, resolved as FastAPI does (no generators)."""
    resolved = {}
    for name, marker in dependencies_of(fn):
        target = marker.dependency
        arguments = await resolve(target, cache)
        if not (marker.use_cache and target in cache):
            if inspect.iscoroutinefunction(target):
                produced = await target(**arguments)
            else:
                produced = await run_in_threadpool(target, **arguments)
            if target not in cache:
                cache[target] = produced
        else:
            produced = cache[target]
        resolved[name] = produced
    return resolved
''',
            "enter_dependency": '''from fastapi.concurrency import contextmanager_in_threadpool, run_in_threadpool


async def enter_dependency(fn, kwargs: dict, stack: contextlib.AsyncExitStack):
    """Call one dependency as FastAPI does; push a yield dependency's teardown onto `stack`."""
    if inspect.isgeneratorfunction(fn):
        manager = contextmanager_in_threadpool(contextlib.contextmanager(fn)(**kwargs))
    elif inspect.isasyncgenfunction(fn):
        manager = contextlib.asynccontextmanager(fn)(**kwargs)
    elif inspect.iscoroutinefunction(fn):
        return await fn(**kwargs)
    else:
        return await run_in_threadpool(fn, **kwargs)
    return await stack.enter_async_context(manager)
''',
            "call_with_dependencies": '''from fastapi.concurrency import contextmanager_in_threadpool, run_in_threadpool


class _Request:
    """One request's state: its cache and its exit stack."""

    def __init__(self, overrides):
        self.overrides = dict(overrides or {})
        self.cache = {}
        self.stack = contextlib.AsyncExitStack()

    async def arguments_for(self, fn):
        arguments = {}
        for name, marker in dependencies_of(fn):
            declared = marker.dependency
            used = self.overrides.get(declared, declared)
            inner = await self.arguments_for(used)
            if marker.use_cache and declared in self.cache:
                arguments[name] = self.cache[declared]
                continue
            if inspect.isasyncgenfunction(used):
                value = await self.stack.enter_async_context(contextlib.asynccontextmanager(used)(**inner))
            elif inspect.isgeneratorfunction(used):
                value = await self.stack.enter_async_context(
                    contextmanager_in_threadpool(contextlib.contextmanager(used)(**inner)))
            elif inspect.iscoroutinefunction(used):
                value = await used(**inner)
            else:
                value = await run_in_threadpool(used, **inner)
            self.cache.setdefault(declared, value)
            arguments[name] = value
        return arguments


async def call_with_dependencies(endpoint, *, overrides: dict | None = None):
    """Resolve `endpoint`'s dependencies as FastAPI does for one request, call it, tear down; return its value."""
    request = _Request(overrides)
    async with request.stack:
        arguments = await request.arguments_for(endpoint)
        if inspect.iscoroutinefunction(endpoint):
            return await endpoint(**arguments)
        return await run_in_threadpool(endpoint, **arguments)
''',
        },
    ),
]
