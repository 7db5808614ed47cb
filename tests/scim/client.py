"""A scim2-client engine on httpx: scim2-client 0.13 ships its network engine for `httpx2`, which this project
does not install, and the `httpx` API it uses is the same."""

from __future__ import annotations

from typing import Any

import httpx
from scim2_client import BaseSyncSCIMClient
from scim2_client.errors import RequestNetworkException


class HttpxSCIMClient(BaseSyncSCIMClient):
    """scim2-client's synchronous client, sending requests through an `httpx.Client`."""

    def __init__(self, client: httpx.Client, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.client = client

    def _stays_under_base_url(self, endpoint: str) -> bool:
        base_url = self.client.base_url
        if not base_url.is_absolute_url:
            return False
        try:
            url = self.client.build_request("GET", endpoint).url
        except httpx.InvalidURL:
            return False
        origin = (url.scheme, url.host, url.port)
        return origin == (base_url.scheme, base_url.host, base_url.port) and url.raw_path.startswith(
            base_url.raw_path
        )

    def _parse_json(self, response: Any) -> Any:
        return response.json()

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return self.client.request(method, url, **kwargs)
        except httpx.RequestError as exc:
            error = RequestNetworkException()
            error.add_note(str(exc))
            raise error from exc
