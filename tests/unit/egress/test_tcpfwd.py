"""tcpfwd.Link: what either side sent before the two were joined is passed on at the join."""

from __future__ import annotations

import asyncio

from osdn.egress.tcpfwd import Link


def test_an_upstream_that_speaks_first_is_heard_after_the_join() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()

        async def greeter(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            w.write(b"220 hello\n")  # speaks first, as SMTP or this lab's port 9001 do
            w.write(await r.read(100))
            w.close()

        upstream = await asyncio.start_server(greeter, "127.0.0.1", 0)
        ended = loop.create_future()
        link = Link(loop, 30, lambda up, down: ended.set_result((up, down)))
        front = await loop.create_server(lambda: link.client, "127.0.0.1", 0)
        try:
            r, w = await asyncio.open_connection("127.0.0.1", front.sockets[0].getsockname()[1])
            w.write(b"early\n")  # the client speaks before the upstream is even connected
            await loop.create_connection(lambda: link.upstream, "127.0.0.1", upstream.sockets[0].getsockname()[1])
            while not link.upstream.pending:  # the greeting arrived before the join (the client is held)
                await asyncio.sleep(0.01)
            link.join()
            assert await asyncio.wait_for(r.read(-1), 20) == b"220 hello\nearly\n"
            w.close()  # both directions have ended now: the link closes
            assert await asyncio.wait_for(ended, 20) == (6, 16)
        finally:
            front.close()
            upstream.close()

    asyncio.run(main())
