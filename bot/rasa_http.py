"""Rasa's calls to the action server over kept-alive connections, JSON through ujson (runs inside Rasa, Python 3.10).

Rasa 3.6 opens a new aiohttp session, so a new TCP connection, for every custom action call
(``EndpointConfig.request``), and (de)serialises with the standard ``json`` module; a typed question makes two
or three calls. Here each event loop keeps one session per endpoint, and requests and responses go through
ujson (the standard module when ujson cannot encode a value). ``close()`` closes the sessions when the server
stops (``bot.rest_channel`` registers it). Status codes, errors and the ``None`` of a non-JSON answer are
Rasa's.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from typing import Any

import aiohttp
import ujson
from rasa.core.constants import DEFAULT_REQUEST_TIMEOUT
from rasa.utils.endpoints import ClientResponseError, EndpointConfig

# Under Sanic's keep-alive timeout (5 s, rasa-sdk's server): a connection is dropped here before the server
# may close it, so a request never goes out on a connection the server is closing.
KEEPALIVE_S = 3.0
_sessions: dict[tuple[Any, ...], tuple[asyncio.AbstractEventLoop, aiohttp.ClientSession]] = {}
_ssl_contexts: dict[str, ssl.SSLContext] = {}
_wrapped: dict[int, tuple[EndpointConfig, KeptAliveEndpoint]] = {}


class KeptAliveEndpoint(EndpointConfig):
    """An ``EndpointConfig`` whose JSON POSTs (the action calls) go through the kept-alive session."""

    async def request(
        self, method: str = "post", subpath: str | None = None, content_type: str | None = "application/json",
        compress: bool = False, **kwargs: Any,
    ) -> Any:
        """A JSON POST to the URL itself through ``post_json``; anything else as Rasa sends it."""
        if method.lower() == "post" and not subpath and content_type == "application/json" and "json" in kwargs and (
            set(kwargs) <= {"json", "timeout"}
        ):
            return await post_json(self, kwargs["json"], float(kwargs.get("timeout", DEFAULT_REQUEST_TIMEOUT)),
                                   compress)
        return await super().request(method, subpath, content_type, compress, **kwargs)


def kept_alive(endpoint: EndpointConfig | None) -> EndpointConfig | None:
    """The same endpoint as a ``KeptAliveEndpoint`` (one per endpoint object; None stays None)."""
    if endpoint is None or isinstance(endpoint, KeptAliveEndpoint):
        return endpoint
    found = _wrapped.get(id(endpoint))
    if found is None or found[0] is not endpoint:
        wrapped = KeptAliveEndpoint(endpoint.url, endpoint.params, endpoint.headers, endpoint.basic_auth,
                                    endpoint.token, endpoint.token_name, endpoint.cafile, type=endpoint.type,
                                    **endpoint.kwargs)
        found = _wrapped[id(endpoint)] = (endpoint, wrapped)
    return found[1]


def _key(endpoint: EndpointConfig) -> tuple[Any, ...]:
    """What a session is shared on: the endpoint's headers and credentials."""
    return (tuple(sorted(endpoint.headers.items())), tuple(sorted(endpoint.basic_auth.items())))


def session_for(endpoint: EndpointConfig) -> aiohttp.ClientSession:
    """The running loop's kept-alive session for this endpoint (created on first use)."""
    loop = asyncio.get_running_loop()
    key = (id(loop), *_key(endpoint))
    found = _sessions.get(key)
    if found is not None and found[0] is loop and not found[1].closed:
        return found[1]
    auth = endpoint.basic_auth
    session = aiohttp.ClientSession(
        headers=endpoint.headers,
        auth=aiohttp.BasicAuth(auth["username"], auth["password"]) if auth else None,
        connector=aiohttp.TCPConnector(keepalive_timeout=KEEPALIVE_S),
    )
    _sessions[key] = (loop, session)
    return session


def encode(value: Any) -> bytes:
    """``value`` as UTF-8 JSON by ujson; by the standard module (as Rasa) for what ujson refuses."""
    try:
        return ujson.dumps(value, ensure_ascii=False).encode("utf-8")
    except (TypeError, OverflowError, ValueError):  # e.g. a lone surrogate (half an emoji) in a message
        return json.dumps(value).encode("utf-8")


def _ssl(endpoint: EndpointConfig) -> ssl.SSLContext | None:
    """The endpoint's certificate authority context, built once (None without ``cafile``)."""
    if not endpoint.cafile:
        return None
    if endpoint.cafile not in _ssl_contexts:
        _ssl_contexts[endpoint.cafile] = ssl.create_default_context(cafile=endpoint.cafile)
    return _ssl_contexts[endpoint.cafile]


async def post_json(endpoint: EndpointConfig, body: dict[str, Any], timeout: float, compress: bool = False) -> Any:
    """POST ``body`` to the endpoint as ``EndpointConfig.request`` would; the JSON answer, None if not JSON."""
    headers = {"Content-Type": "application/json", **endpoint.headers}
    async with session_for(endpoint).post(
        endpoint.url or "", data=encode(body), headers=headers, params=endpoint.combine_parameters(),
        compress=compress, ssl=_ssl(endpoint) or True, timeout=aiohttp.ClientTimeout(total=timeout),
    ) as response:
        if response.status >= 400:
            raise ClientResponseError(response.status, response.reason, await response.content.read())
        try:
            return await response.json(loads=ujson.loads)
        except aiohttp.ContentTypeError:
            return None


async def close() -> None:
    """Close the sessions of the running loop (and forget those of loops that are gone)."""
    loop = asyncio.get_running_loop()
    for key, (owner, session) in list(_sessions.items()):
        if owner is loop:
            await session.close()
        if owner is loop or owner.is_closed():
            del _sessions[key]
