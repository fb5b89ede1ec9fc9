"""External tasks on Operaton through ``camunda-external-task-client-python3``.

The library's own loop (``ExternalTaskWorker.subscribe``) is not used: on any error it sleeps 300 s and it
hands task exceptions to a handler API of its own. We use its ``ExternalTaskClient`` for the three REST calls
a worker makes — ``fetchAndLock`` (with long polling), ``complete`` and ``failure`` — and keep the
``workers.runtime.Worker`` loop, so every topic handler runs unchanged on both engines and an exception
always becomes a failure with retries.

Variables go out in Operaton's typed form (dicts and lists as ``Json``) and are read back with
``deserializeValues=false`` through the same functions as the REST adapter (:mod:`.wire`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

import requests
from camunda.client.external_task_client import ExternalTaskClient

from dossiers.errors import InvalidInput, MotcuaError
from dossiers.ports import ExternalTask, JsonValue
from workflows.operaton.wire import (
    base_url_of,
    credentials_refused,
    external_task_error,
    external_tasks,
    typed_variables,
    unreachable,
)

_STATUS = re.compile(r"received (\d{3})")
HTTP_SECONDS = 30.0


class ClientTasks:
    """The fetch/complete/fail part of the ``Engine`` port, spoken through the Camunda external-task client."""

    def __init__(self, base_url: str, user: str | None, password: str | None) -> None:
        self.base_url = base_url_of(base_url)
        self._auth = {"auth_basic": {"username": user, "password": password or ""}} if user else {}
        self._clients: dict[tuple[str, int, int, int], ExternalTaskClient] = {}

    def _client(self, worker_id: str, max_tasks: int = 1, lock_ms: int = 60_000, wait_ms: int = 0) -> Any:
        key = (worker_id, max_tasks, lock_ms, wait_ms)
        if key not in self._clients:
            config = {
                "maxTasks": max_tasks,
                "lockDuration": lock_ms,
                "asyncResponseTimeout": wait_ms,
                "httpTimeoutMillis": int(HTTP_SECONDS * 1000),
                "timeoutDeltaMillis": 10_000,
                "deserializeValues": False,
                "includeExtensionProperties": False,
                "usePriority": True,
                **self._auth,
            }
            self._clients[key] = ExternalTaskClient(worker_id, self.base_url, config)
        return self._clients[key]

    def _call(self, what: str, task_id: str, call: Any) -> Any:
        """Run one client call and turn what it raises into the domain's errors."""
        try:
            return call()
        except requests.HTTPError as exc:  # an error answer without a JSON body (e.g. 401 from the filter)
            status = exc.response.status_code if exc.response is not None else 0
            self._raise(what, task_id, status, str(exc), exc)
        except requests.RequestException as exc:
            raise unreachable(self.base_url, exc, what) from exc
        except MotcuaError:
            raise
        except Exception as exc:  # noqa: BLE001 - the client raises bare Exception("received <status> : …")
            found = _STATUS.search(str(exc))
            self._raise(what, task_id, int(found.group(1)) if found else 0, str(exc), exc)

    def _raise(self, what: str, task_id: str, status: int, message: str, cause: Exception) -> NoReturn:
        if status == 401:
            raise credentials_refused(self.base_url) from cause
        error = external_task_error(status, message, task_id) if task_id else None
        if error is not None:
            raise error from cause
        raise InvalidInput(
            f"Máy chủ quy trình từ chối: {what}: {message}", f"Operaton refused {what}: {message}", status=status
        ) from cause

    def fetch_and_lock(
        self, worker_id: str, topics: Sequence[str], max_tasks: int, lock_seconds: float, wait_seconds: float = 0.0
    ) -> list[ExternalTask]:
        if not topics:
            return []
        client = self._client(worker_id, max_tasks, max(1, int(lock_seconds * 1000)), int(wait_seconds * 1000))
        rows = self._call("fetch and lock", "", lambda: client.fetch_and_lock(list(topics)))
        return external_tasks(rows or [], worker_id)

    def complete_external_task(self, task_id: str, worker_id: str, variables: Mapping[str, JsonValue]) -> None:
        client = self._client(worker_id)
        self._call("complete", task_id, lambda: client.complete(task_id, typed_variables(variables)))

    def fail_external_task(
        self, task_id: str, worker_id: str, message: str, retries: int, retry_seconds: float
    ) -> None:
        retries = max(retries, 0)
        timeout = max(0, int(retry_seconds * 1000)) if retries > 0 else 0
        client = self._client(worker_id)
        self._call("failure", task_id, lambda: client.failure(task_id, message[:600], message[:4000], retries, timeout))
