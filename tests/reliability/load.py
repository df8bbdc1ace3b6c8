"""Steady background load on the demo service, with every failure recorded."""

from __future__ import annotations

import asyncio
import random
import threading

import httpx


class Load:
    """GET requests from 4 clients until stopped; counts every answer and every failure."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.done = 0
        self.answered = 0  # 2xx answers
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def start(self) -> Load:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)

    async def _run(self) -> None:
        async def client(seed: int, http: httpx.AsyncClient) -> None:
            rng = random.Random(seed)
            while not self._stop.is_set():
                path = rng.choice(["/items/{}", "/categories/books", "/report/games"]).format(rng.randint(1, 500))
                try:
                    response = await http.get(path)
                    if response.status_code >= 500:
                        self.failures.append(f"{path}: {response.status_code}")
                    elif response.status_code < 300:
                        self.answered += 1
                except httpx.HTTPError as exc:
                    self.failures.append(f"{path}: {type(exc).__name__}")
                self.done += 1
                await asyncio.sleep(0.01)

        async with httpx.AsyncClient(base_url=self.base_url, timeout=10) as http:
            await asyncio.gather(*(client(i, http) for i in range(4)))
