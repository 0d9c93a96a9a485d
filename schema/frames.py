"""Room on CPython's frame stack for executing an operation.

CPython 3.11 keeps the frames of Python calls on a per-thread stack of 16 KiB chunks.
A call that does not fit in the current chunk maps a new one (mmap), and the return
from the first frame of that chunk unmaps it again. Executing a query nests about
1.7 KiB of graphql-core and strawberry frames per level of the result (a page of
responses, a response, its answers, an answer, a field: 13-14 KiB in all), on top of
whatever Flask, the WSGI server and the view have already put on the stack. When a
chunk ends just below the leaves, every leaf field maps and unmaps a chunk: for
`responses(first: 200)` with answers that was 6,400 mmap/munmap pairs and 8,000
page faults per request, about 60 ms of CPU, more than executing the whole query
over plain objects. Whether it happens depends only on how deep the stack already
is where execution starts, so it came and went with the server, the test client or
a decorator.

`in_roomy_frame` calls a function from a frame too large for any 16 KiB chunk: the
frame gets a chunk of its own of 64 KiB (chunks are sized in doublings of 16 KiB
to fit the frame that asked), and the call it makes starts right after it with
about 31 KiB free, twice what the deepest query of the API nests. So at most one
chunk is mapped per call, wherever the caller stands. The frame's size comes from
its (never assigned) local variables; setting them up costs a few microseconds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

#: Local variables of the roomy frame: 8 bytes each, 33 KiB in all, so its chunk is
#: 64 KiB (a 32 KiB one would not hold it) with about 31 KiB left after it.
ROOMY_LOCALS = 4_200

_SOURCE = (
    "def in_roomy_frame(function, args, kwargs):\n"
    "    if False:  # the names are locals of the frame; nothing ever runs here\n"
    f"        {' = '.join(f'_{i}' for i in range(ROOMY_LOCALS))} = None\n"
    "    return function(*args, **kwargs)\n"
)
_namespace: dict[str, Any] = {}
exec(compile(_SOURCE, __file__, "exec"), _namespace)  # noqa: S102 - fixed source above
_in_roomy_frame: Callable[..., Any] = _namespace["in_roomy_frame"]


def in_roomy_frame(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`function(*args, **kwargs)`, called from a frame that leaves it a fresh chunk
    of CPython's frame stack with about 31 KiB of room."""
    return _in_roomy_frame(function, args, kwargs)  # type: ignore[no-any-return]
