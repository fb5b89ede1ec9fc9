"""What the ``Engine`` port refuses, worded once for both engines: the same refusal means the same thing (and reads
the same to an official) whether the embedded engine or Operaton said no."""

from __future__ import annotations

from dossiers.errors import Conflict, NotFound


def no_deployed_process(process_key: str) -> NotFound:
    return NotFound(
        f"Không có quy trình BPMN '{process_key}'.",
        f"No deployed BPMN process '{process_key}'.",
        process_key=process_key,
    )


def no_running_process(business_key: str) -> NotFound:
    return NotFound(
        "Không có quy trình đang chạy cho hồ sơ này.",
        f"No running process for business key {business_key}.",
    )


def external_task_gone(task_id: str) -> NotFound:
    """Completed by another delivery, or never existed."""
    return NotFound(
        "Tác vụ không còn chờ xử lý (đã hoàn thành hoặc không tồn tại).",
        "External task is no longer waiting (already completed or unknown).",
        task_id=task_id,
    )


def external_task_taken(holder: str | None, task_id: str) -> Conflict:
    """Our lock expired and another worker holds the task."""
    return Conflict(
        "Tác vụ đang do tiến trình khác giữ khóa.",
        f"External task is locked by another worker ({holder}).",
        task_id=task_id,
    )


def external_task_unknown(task_id: str) -> NotFound:
    return NotFound("Không tìm thấy tác vụ.", "External task not found.", task_id=task_id)


def user_task_gone(task_id: str) -> NotFound:
    return NotFound(
        "Nhiệm vụ không tồn tại hoặc đã hoàn thành.",
        "Task not found or already completed.",
        task_id=task_id,
    )


def user_task_taken(assignee: str | None, task_id: str) -> Conflict:
    return Conflict(
        f"Nhiệm vụ đã được {assignee} nhận xử lý.",
        f"Task is already claimed by {assignee}.",
        task_id=task_id,
    )


def not_waiting_for_message(name: str, detail: str | None = None) -> Conflict:
    suffix = f" ({detail})" if detail else ""
    return Conflict(
        f"Quy trình không chờ thông điệp '{name}'.",
        f"The process is not waiting for message '{name}'{suffix}.",
    )
