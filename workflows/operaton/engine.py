"""The Operaton engine: the ``Engine`` port over Operaton's REST API (``/engine-rest``, Camunda 7 compatible).

One ``httpx`` client with Basic auth; variables, times and refusals in the wire format of :mod:`.wire`. Errors
become the domain's ``NotFound``/``Conflict``/``InvalidInput``/``Unavailable`` with the same meaning as in the
embedded engine.

Time: Operaton computes due dates and lock expiry on the real clock. Timers in our BPMN are absolute dates
(``${warn_at}``) computed by workers on the application clock, so ``fire_due_timers(now)`` executes every
timer job due at or before the *application's* ``now`` (``POST /job/{id}/execute``), which is what a
simulated clock needs; with the job executor on, Operaton also fires them itself when their real time comes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import structlog

from dossiers.errors import Conflict, InvalidInput, NotFound, Unavailable
from dossiers.ports import (
    TENANT_VARIABLE,
    ActivityStates,
    Clock,
    ExternalTask,
    Incident,
    JsonValue,
    ProcessInstance,
    UserTask,
)
from workflows.introspect import process_ids, read_activity_attributes
from workflows.operaton.wire import (
    base_url_of,
    credentials_refused,
    external_task_error,
    external_tasks,
    format_time,
    parse_time,
    plain_variables,
    typed_variables,
    unreachable,
    untyped,
)
from workflows.refusals import (
    external_task_unknown,
    no_deployed_process,
    no_running_process,
    not_waiting_for_message,
    user_task_gone,
    user_task_taken,
)

log = structlog.get_logger(__name__)
DEPLOYMENT_NAME = "motcua"
PAGE = 500  # rows per page of a listing


class OperatonEngine:
    """The ``Engine`` port on a remote Operaton node (any number of nodes may share its database)."""

    shares_database = False  # engine calls are REST requests, never part of the application's transaction

    def __init__(
        self,
        base_url: str,
        user: str | None,
        password: str | None,
        clock: Clock,
        bpmn_dirs: Iterable[Path],
        *,
        timeout: float = 30,
        transport: httpx.BaseTransport | None = None,
        tenant_variable: str = TENANT_VARIABLE,
    ) -> None:
        self.base_url = base_url_of(base_url)
        self.tenant_variable = tenant_variable  # the process variable ``user_tasks(tenant=...)`` filters on
        self.clock = clock
        self.bpmn_dirs = [Path(d) for d in bpmn_dirs]
        auth = (user, password or "") if user else None
        self.http = httpx.Client(base_url=self.base_url, auth=auth, timeout=timeout, transport=transport)
        self._groups: dict[tuple[str, str], tuple[str, ...]] | None = None
        self._definition_keys: dict[str, str] = {}

    def close(self) -> None:
        self.http.close()

    # ------------------------------------------------------------------ HTTP

    def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """One REST call, its answer as it is; an unreachable engine or refused credentials raise ``Unavailable``."""
        try:
            response = self.http.request(method, path, **kw)
        except httpx.TransportError as exc:
            raise unreachable(self.base_url, exc) from exc
        if response.status_code == 401:
            raise credentials_refused(self.base_url)
        if response.status_code == 403:
            raise Unavailable(
                "Tài khoản Operaton không có quyền thực hiện thao tác này.",
                f"The Operaton user is not authorized for {method} {path}.",
            )
        return response

    @staticmethod
    def _message(response: httpx.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            return response.text[:500]
        if isinstance(body, dict):
            return str(body.get("message") or body.get("type") or body)
        return str(body)

    def _fail(self, response: httpx.Response, what: str) -> None:
        """Raise the domain error for a failed response (never returns)."""
        message = self._message(response)
        lowered = message.lower()
        if response.status_code == 404 or any(s in lowered for s in ("not found", "does not exist", "cannot find")):
            raise NotFound(f"Không tìm thấy: {what}.", f"Not found: {what} ({message}).")
        if response.status_code == 409 or any(
            s in lowered for s in ("locked by", "already claimed", "optimisticlocking", "was updated by another")
        ):
            raise Conflict(f"Xung đột: {what}.", f"Conflict: {what} ({message}).")
        raise InvalidInput(
            f"Máy chủ quy trình từ chối: {what}: {message}",
            f"Operaton refused {what}: {message}",
            status=response.status_code,
        )

    def call(self, method: str, path: str, what: str, **kw: Any) -> Any:
        """One REST call, its JSON body (None when empty); a refusal raises the domain's error about ``what``."""
        response = self.request(method, path, **kw)
        if response.status_code >= 400:
            self._fail(response, what)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    # ------------------------------------------------------------------ deployment

    def _bpmn_files(self) -> list[Path]:
        return sorted(p for d in self.bpmn_dirs for p in d.glob("*.bpmn"))

    def deploy(self) -> list[str]:
        """Every BPMN file in one deployment; unchanged files make no new version. Returns new definition ids."""
        files = self._bpmn_files()
        if not files:
            return []
        handles = [(f"data{i}", (p.name, p.read_bytes(), "application/octet-stream")) for i, p in enumerate(files)]
        body = self.call(
            "POST",
            "/deployment/create",
            "deployment",
            data={
                "deployment-name": DEPLOYMENT_NAME,
                "deploy-changed-only": "true",
                "enable-duplicate-filtering": "true",
                "deployment-source": "motcua",
            },
            files=handles,
        )
        deployed = sorted((body or {}).get("deployedProcessDefinitions") or {})
        if deployed:
            log.info("operaton.deployed", definitions=deployed)
        return deployed

    def definition_xml(self, process_key: str, business_key: str | None = None) -> bytes | None:
        latest = self._latest_in_history(business_key) if business_key is not None else None
        if latest is not None and latest.get("processDefinitionKey") == process_key:
            path = f"/process-definition/{latest['processDefinitionId']}/xml"
        else:
            path = f"/process-definition/key/{process_key}/xml"
        try:
            body = self.call("GET", path, f"BPMN of {process_key}")
        except NotFound:
            return None
        xml = (body or {}).get("bpmn20Xml")
        return None if xml is None else str(xml).encode("utf-8")

    def _candidate_groups(self, definition_id: str | None, activity_id: str) -> tuple[str, ...]:
        if self._groups is None:
            groups: dict[tuple[str, str], tuple[str, ...]] = {}
            for path in self._bpmn_files():
                xml = path.read_bytes()
                attrs = read_activity_attributes(xml)
                for key in process_ids(xml):
                    for activity, a in attrs.items():
                        groups[(key, activity)] = tuple(a.candidate_groups)
                        groups.setdefault(("", activity), tuple(a.candidate_groups))
            self._groups = groups
        key = self._definition_key(definition_id) if definition_id else ""
        found = self._groups.get((key, activity_id))
        return found if found is not None else self._groups.get(("", activity_id), ())

    def _definition_key(self, definition_id: str) -> str:
        """A process definition's key (ids are UUIDs here, not ``key:version:…``); cached, ids never change."""
        if definition_id not in self._definition_keys:
            body = self.call("GET", f"/process-definition/{definition_id}", "process definition")
            self._definition_keys[definition_id] = str((body or {}).get("key") or "")
        return self._definition_keys[definition_id]

    # ------------------------------------------------------------------ instances

    def _running(self, business_key: str) -> dict[str, Any] | None:
        rows = self.call("GET", "/process-instance", "process instances", params={"businessKey": business_key})
        return rows[0] if rows else None

    def start(self, process_key: str, business_key: str, variables: Mapping[str, JsonValue]) -> str:
        existing = self._running(business_key)
        if existing is not None:
            return str(existing["id"])
        done = self._latest_in_history(business_key)
        if done is not None:
            return str(done["id"])
        response = self.request(
            "POST",
            f"/process-definition/key/{process_key}/start",
            json={"businessKey": business_key, "variables": typed_variables(variables)},
        )
        if response.status_code == 404 or (
            response.status_code >= 400 and "no processes deployed" in self._message(response).lower()
        ):
            raise no_deployed_process(process_key)
        if response.status_code >= 400:
            self._fail(response, f"start of {process_key}")
        log.info("process.started", process_key=process_key, business_key=business_key)
        return str(response.json()["id"])

    def _variables_of(self, instance_id: str) -> dict[str, Any]:
        body = self.call(
            "GET",
            f"/process-instance/{instance_id}/variables",
            "process variables",
            params={"deserializeValues": "false"},
        )
        return plain_variables(body)

    def instance(self, business_key: str) -> ProcessInstance | None:
        running = self._running(business_key)
        if running is not None:
            return ProcessInstance(
                id=running["id"],
                process_key=self._definition_key(str(running.get("definitionId") or "")),
                business_key=business_key,
                state="running",
                variables=self._variables_of(running["id"]),
            )
        row = self._latest_in_history(business_key)
        if row is None:
            return None
        history = self.call(
            "GET",
            "/history/variable-instance",
            "history variables",
            params={"processInstanceId": row["id"], "deserializeValues": "false"},
        )
        variables: dict[str, Any] = {}
        # process-scope values win over task-local ones of the same name
        for var in sorted(history or [], key=lambda v: v.get("activityInstanceId") == row["id"]):
            if var.get("state", "CREATED") != "DELETED":
                variables[var["name"]] = untyped(var)
        state = str(row.get("state", "COMPLETED")).upper()
        return ProcessInstance(
            id=row["id"],
            process_key=row.get("processDefinitionKey") or "",
            business_key=business_key,
            state={
                "ACTIVE": "running",
                "SUSPENDED": "running",
                "COMPLETED": "completed",
                "EXTERNALLY_TERMINATED": "cancelled",  # Engine.cancel (or an operator's deletion)
            }.get(state, "failed"),
            variables=variables,
        )

    def _latest_in_history(self, business_key: str) -> dict[str, Any] | None:
        """The newest instance under the business key, running or ended (its historic process instance)."""
        rows = self.call(
            "GET", "/history/process-instance", "history", params={"processInstanceBusinessKey": business_key}
        )
        return max(rows, key=lambda r: str(r.get("startTime") or "")) if rows else None

    def business_keys(self) -> set[str]:
        """Every business key the engine holds an instance under, running or ended (history holds both)."""
        keys: set[str] = set()
        first = 0
        while True:
            rows = self.call(
                "GET",
                "/history/process-instance",
                "history",
                params={"firstResult": first, "maxResults": PAGE, "sortBy": "startTime", "sortOrder": "asc"},
            )
            keys.update(str(r["businessKey"]) for r in rows or [] if r.get("businessKey"))
            if len(rows or []) < PAGE:
                return keys
            first += PAGE

    def forget(self, business_key: str) -> int:
        """Delete every instance under ``business_key``, running or ended, with its history, so that nothing of it
        is left for ``start`` to return (an idempotent start would hand a new dossier that code's old process).
        Only for state that no longer exists, such as a discarded demo's; returns how many instances went."""
        rows = self.call(
            "GET", "/history/process-instance", "history", params={"processInstanceBusinessKey": business_key}
        )
        for row in rows or []:
            if row.get("endTime") is None:  # running: end it first, without running listeners or mappings
                ended = self.request(
                    "DELETE",
                    f"/process-instance/{row['id']}",
                    params={"skipCustomListeners": "true", "skipIoMappings": "true"},
                )
                if ended.status_code >= 400 and ended.status_code != 404:
                    self._fail(ended, f"deletion of the process of {business_key}")
            gone = self.request("DELETE", f"/history/process-instance/{row['id']}")
            if gone.status_code >= 400 and gone.status_code != 404:
                self._fail(gone, f"deletion of the history of {business_key}")
        if rows:
            log.info("process.forgotten", business_key=business_key, instances=len(rows))
        return len(rows or [])

    def cancel(self, business_key: str, reason: str) -> bool:
        """Delete the running instance of ``business_key`` (``DELETE /process-instance/{id}``) without running
        listeners or I/O mappings; Operaton keeps it in history as externally terminated. A 404 (ended meanwhile,
        e.g. by another node) is no error."""
        running = self._running(business_key)
        if running is None:
            return False
        response = self.request(
            "DELETE",
            f"/process-instance/{running['id']}",
            params={"skipCustomListeners": "true", "skipIoMappings": "true"},
        )
        if response.status_code == 404:
            return False
        if response.status_code >= 400:
            self._fail(response, f"the end of the process of {business_key}")
        log.info("process.cancelled", business_key=business_key, reason=reason[:200])
        return True

    def activity_states(self, business_key: str) -> ActivityStates | None:
        """From Operaton's activity history of the newest instance (an activity cancelled by a boundary event or
        a message is neither current nor completed)."""
        latest = self._latest_in_history(business_key)
        if latest is None:
            return None
        rows = self.call(
            "GET",
            "/history/activity-instance",
            "activity history",
            params={"processInstanceId": latest["id"], "sortBy": "startTime", "sortOrder": "asc"},
        )
        current: list[str] = []
        completed: list[str] = []
        for a in rows or []:
            activity_id = a.get("activityId")
            if not activity_id:
                continue
            if a.get("endTime") is None:
                current.append(activity_id)
            elif not a.get("canceled"):
                completed.append(activity_id)
        return ActivityStates(current=tuple(current), completed=tuple(completed))

    def _business_keys(self, instance_ids: Iterable[str]) -> dict[str, str]:
        ids = sorted(set(instance_ids))
        if not ids:
            return {}
        rows = self.call("POST", "/process-instance", "process instances", json={"processInstanceIds": ids})
        return {r["id"]: r.get("businessKey") or "" for r in rows or []}

    # ------------------------------------------------------------------ external tasks

    def fetch_and_lock(
        self, worker_id: str, topics: Sequence[str], max_tasks: int, lock_seconds: float, wait_seconds: float = 0.0
    ) -> list[ExternalTask]:
        if not topics:
            return []
        duration = max(1, int(lock_seconds * 1000))
        body: dict[str, Any] = {
            "workerId": worker_id,
            "maxTasks": max_tasks,
            "usePriority": True,
            "topics": [{"topicName": t, "lockDuration": duration} for t in topics],
        }
        extra: dict[str, Any] = {}
        if wait_seconds > 0:
            body["asyncResponseTimeout"] = int(wait_seconds * 1000)
            extra["timeout"] = wait_seconds + 10
        rows = self.call("POST", "/external-task/fetchAndLock", "fetch and lock", json=body, **extra)
        return external_tasks(rows or [], worker_id)

    def _external(self, method: str, task_id: str, action: str, body: Mapping[str, Any]) -> None:
        response = self.request(method, f"/external-task/{task_id}/{action}", json=dict(body))
        if response.status_code < 400:
            return
        error = external_task_error(response.status_code, self._message(response), task_id)
        if error is not None:
            raise error
        self._fail(response, f"external task {action}")

    def complete_external_task(self, task_id: str, worker_id: str, variables: Mapping[str, JsonValue]) -> None:
        self._external("POST", task_id, "complete", {"workerId": worker_id, "variables": typed_variables(variables)})

    def extend_lock(self, task_id: str, worker_id: str, lock_seconds: float) -> None:
        self._external(
            "POST", task_id, "extendLock", {"workerId": worker_id, "newDuration": max(1, int(lock_seconds * 1000))}
        )

    def fail_external_task(
        self, task_id: str, worker_id: str, message: str, retries: int, retry_seconds: float
    ) -> None:
        retries = max(retries, 0)
        self._external(
            "POST",
            task_id,
            "failure",
            {
                "workerId": worker_id,
                "errorMessage": message[:600],
                "errorDetails": message[:4000],
                "retries": retries,
                "retryTimeout": max(0, int(retry_seconds * 1000)) if retries > 0 else 0,
            },
        )
        if retries == 0:
            log.warning("incident.created", task_id=task_id)

    def set_retries(self, task_id: str, retries: int) -> None:
        """Resolve an incident: make the task fetchable again."""
        response = self.request("PUT", f"/external-task/{task_id}/retries", json={"retries": retries})
        if response.status_code >= 400:
            if response.status_code == 404 or "not found" in self._message(response).lower():
                raise external_task_unknown(task_id)
            self._fail(response, "set retries")

    def pending_external_tasks(self) -> int:
        """External tasks a worker could fetch now (queue depth)."""
        body = self.call(
            "GET",
            "/external-task/count",
            "external task count",
            params={"notLocked": "true", "withRetriesLeft": "true"},
        )
        return int((body or {}).get("count", 0))

    def incidents(self) -> list[Incident]:
        rows = self.call("GET", "/incident", "incidents") or []
        keys = self._business_keys(r["processInstanceId"] for r in rows if r.get("processInstanceId"))
        return [
            Incident(
                id=r["id"],
                instance_id=r.get("processInstanceId") or "",
                business_key=keys.get(r.get("processInstanceId") or "", ""),
                activity_id=r.get("activityId") or "",
                message=r.get("incidentMessage") or "",
                created_at=parse_time(r.get("incidentTimestamp")) or self.clock.now(),
                # for a failed external task the incident's configuration is the task's id
                task_id=r.get("configuration") if r.get("incidentType") == "failedExternalTask" else None,
            )
            for r in rows
        ]

    # ------------------------------------------------------------------ user tasks

    def _user_tasks(self, rows: list[dict[str, Any]]) -> list[UserTask]:
        if not rows:
            return []
        instance_ids = sorted({r["processInstanceId"] for r in rows if r.get("processInstanceId")})
        keys = self._business_keys(instance_ids)
        values: dict[str, dict[str, Any]] = {i: {} for i in instance_ids}
        if instance_ids:
            found = self.call(
                "POST",
                "/variable-instance",
                "variables",
                params={"deserializeValues": "false"},
                json={"processInstanceIdIn": instance_ids},
            )
            # process-scope values win over local ones of the same name
            for var in sorted(found or [], key=lambda v: v.get("activityInstanceId") == v.get("processInstanceId")):
                values.setdefault(var["processInstanceId"], {})[var["name"]] = untyped(var)
        tasks = [
            UserTask(
                id=r["id"],
                instance_id=r.get("processInstanceId") or "",
                business_key=keys.get(r.get("processInstanceId") or "", ""),
                activity_id=r.get("taskDefinitionKey") or "",
                name=r.get("name") or r.get("taskDefinitionKey") or "",
                candidate_groups=self._candidate_groups(r.get("processDefinitionId"), r.get("taskDefinitionKey") or ""),
                assignee=r.get("assignee"),
                created_at=parse_time(r.get("created")) or self.clock.now(),
                due_at=parse_time(r.get("due")),
                variables=values.get(r.get("processInstanceId") or "", {}),
            )
            for r in rows
        ]
        far = dt.datetime.max.replace(tzinfo=dt.UTC)
        return sorted(tasks, key=lambda t: (t.due_at or far, t.created_at))

    def user_tasks(
        self,
        *,
        candidate_groups: Sequence[str] | None = None,
        business_key: str | None = None,
        assignee: str | None = None,
        tenant: str | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> list[UserTask]:
        """One ``POST /task`` filtered by candidate groups and the tenant process variable, sorted by due date
        (then creation, then id: stable pages) and paged by the engine; the page's variables in one more call."""
        query: dict[str, Any] = {
            "sorting": [
                {"sortBy": "dueDate", "sortOrder": "asc"},
                {"sortBy": "created", "sortOrder": "asc"},
                {"sortBy": "id", "sortOrder": "asc"},
            ]
        }
        if candidate_groups is not None:
            if not candidate_groups:
                return []
            query["candidateGroups"] = list(candidate_groups)
            query["includeAssignedTasks"] = True
        if business_key is not None:
            query["processInstanceBusinessKey"] = business_key
        if assignee is not None:
            query["assignee"] = assignee
        if tenant is not None:
            query["processVariables"] = [{"name": self.tenant_variable, "operator": "eq", "value": tenant}]
        params: dict[str, int] = {}
        if offset:
            params["firstResult"] = offset
        if limit is not None:
            params["maxResults"] = limit
        rows = self.call("POST", "/task", "user tasks", params=params, json=query)
        return self._user_tasks(rows or [])

    def user_task(self, task_id: str) -> UserTask | None:
        response = self.request("GET", f"/task/{task_id}")
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            if "not" in self._message(response).lower():
                return None
            self._fail(response, "user task")
        tasks = self._user_tasks([response.json()])
        return tasks[0] if tasks else None

    def _missing_or_taken(self, task_id: str) -> None:
        task = self.request("GET", f"/task/{task_id}")
        if task.status_code >= 400:
            raise user_task_gone(task_id)
        raise user_task_taken(task.json().get("assignee"), task_id)

    def claim(self, task_id: str, user: str) -> None:
        response = self.request("POST", f"/task/{task_id}/claim", json={"userId": user})
        if response.status_code >= 400:
            self._missing_or_taken(task_id)

    def unclaim(self, task_id: str) -> None:
        response = self.request("POST", f"/task/{task_id}/unclaim")
        if response.status_code >= 400:
            self._missing_or_taken(task_id)

    def complete_user_task(self, task_id: str, variables: Mapping[str, JsonValue]) -> None:
        response = self.request("POST", f"/task/{task_id}/complete", json={"variables": typed_variables(variables)})
        if response.status_code < 400:
            return
        exists = self.request("GET", f"/task/{task_id}")
        if exists.status_code >= 400:
            raise user_task_gone(task_id)
        message = self._message(response)
        raise InvalidInput(
            f"Quy trình không thể tiếp tục: {message}",
            f"The process cannot continue: {message}",
            task_id=task_id,
        )

    # ------------------------------------------------------------------ messages and timers

    def correlate_message(self, name: str, business_key: str, variables: Mapping[str, JsonValue]) -> None:
        if self._running(business_key) is None:
            raise no_running_process(business_key)
        response = self.request(
            "POST",
            "/message",
            json={"messageName": name, "businessKey": business_key, "processVariables": typed_variables(variables)},
        )
        if response.status_code < 400:
            return
        message = self._message(response)
        if response.status_code in (400, 404, 409) or "no process definition or execution matches" in message.lower():
            raise not_waiting_for_message(name, message)
        self._fail(response, f"message {name}")

    def fire_due_timers(self, now: dt.datetime) -> int:
        """Execute every timer job due at or before ``now`` (the application's clock, possibly simulated)."""
        bound = format_time(now + dt.timedelta(milliseconds=1))  # Operaton compares strictly: lt ≡ ≤ now
        jobs = self.call(
            "GET", "/job", "timer jobs", params={"timers": "true", "dueDates": f"lt_{bound}", "withRetriesLeft": "true"}
        )
        fired = 0
        for job in jobs or []:
            response = self.request("POST", f"/job/{job['id']}/execute")
            if response.status_code < 400:
                fired += 1
            elif response.status_code == 404 or "not" in self._message(response).lower():
                continue  # fired meanwhile (job executor or another scheduler)
            else:
                log.warning("timer.failed", job_id=job["id"], message=self._message(response))
        return fired
