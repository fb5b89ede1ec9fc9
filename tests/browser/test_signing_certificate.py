"""A leader added later signs results (issue 16): on an installation that issues no development certificates and
trusts its own CA, the administrator adds a leader on the users page, finds him on the certificates page among the
leaders without a valid certificate; the leader reads on his task page what to do and his approval is refused; the
administrator uploads his certificate (issued under the configured root, with its issuing CA), reads the check
and registers it; the leader approves and signs the result in the browser with his own key file."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import expect

from tests.browser.conftest import ServerFactory
from tests.browser.kit import ADMIN, SPECIALIST, WORKER_TIMEOUT_S, Visitor, decide, reload_until, starts
from tests.cert_factory import DAY, Authority, name, p12, pem, root
from tests.conftest import COMMUNE
from tests.integration.server import Api, wait_for

NEW_LEADER = "lanhdao3.xa1"
NEW_LEADER_NAME = "Trịnh Văn Sơn"
KEY_PASSPHRASE = "mat-khau-thiet-bi-ky"
# the demo clock of the server starts on 2 March 2026: certificates valid well around it
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def installation_ca(folder: Path) -> tuple[Authority, Path]:
    """The installation's CA for officials (under its own root) and the root's file for MOTCUA_TRUST_ROOTS."""
    trusted = root("Gốc chứng thực của tỉnh Demo", START)
    key, cert = trusted.issue(name("CA cấp chứng thư số cho cán bộ"), START, not_after=START + 1500 * DAY, ca=True)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "root.pem").write_bytes(pem(trusted.cert))
    return Authority(key, cert), folder / "root.pem"


def task_id(api: Api, username: str, code: str, activity: str) -> str:
    found = wait_for(
        f"{username}'s {activity} task for {code}",
        lambda: [t for t in api.tasks(username) if t["dossier_code"] == code and t["activity_id"] == activity],
        timeout=WORKER_TIMEOUT_S,
    )
    return str(found[0]["id"])


def test_the_admin_registers_a_new_leaders_certificate_and_he_signs(
    visit: Callable[..., Visitor], dedicated_server: ServerFactory, tmp_path: Path
) -> None:
    issuing, root_file = installation_ca(tmp_path / "trust")
    server = dedicated_server(
        "certificates", {"MOTCUA_DEVELOPMENT_CERTIFICATES": "false", "MOTCUA_TRUST_ROOTS": str(root_file)}
    )
    api = Api(server)
    try:
        # the administrator adds the leader, then finds him among the leaders without a valid certificate
        admin = visit(ADMIN, server=server)
        page = admin.page
        admin.goto("/quan-tri/nguoi-dung", "users")
        form = page.locator("form").filter(has=page.get_by_label("Tên đăng nhập", exact=True))
        form.get_by_label("Tên đăng nhập", exact=True).fill(NEW_LEADER)
        form.get_by_label("Họ và tên", exact=True).fill(NEW_LEADER_NAME)
        form.get_by_label(starts("Mật khẩu")).fill("motcua-demo")
        form.get_by_label("Vai trò", exact=True).select_option("leader")
        form.get_by_label("Cơ quan", exact=True).select_option(COMMUNE)
        form.get_by_label("Phòng, ban", exact=True).select_option(f"{COMMUNE}-VP")
        form.get_by_role("button", name="Thêm").click()
        expect(page.get_by_role("status").filter(has_text=f"Đã lưu tài khoản {NEW_LEADER}")).to_be_visible()
        page.get_by_role("navigation", name="Quản trị").get_by_role("link", name="Chứng thư số").click()
        expect(page).to_have_url(re.compile(r"/quan-tri/chung-thu-so$"))
        expect(page.locator("#missing")).to_contain_text(NEW_LEADER)
        admin.shot("certificates-missing")

        # a dossier reaches the approval; the new leader reads what to do and cannot approve yet
        r = api.submit()
        assert r.status_code == 201, r.text
        code = str(r.json()["code"])
        review = task_id(api, SPECIALIST, code, "review")
        assert api.complete(review, SPECIALIST, "approve").status_code == 200
        approve = task_id(api, NEW_LEADER, code, "approve")
        leader = visit(NEW_LEADER, server=server)
        leader.goto(f"/can-bo/nhiem-vu/{approve}", "approve-without-certificate")
        notice = leader.page.locator("#certificate-notice")
        expect(notice).to_contain_text("Bạn chưa có chứng thư số hợp lệ để ký kết quả.")
        expect(notice).to_contain_text("Đề nghị quản trị viên đăng ký chứng thư số")
        decide(leader.page, "approve", None)
        expect(leader.page.get_by_role("alert").filter(has_text="Chưa thể phê duyệt")).to_be_visible()
        leader.shot("approval-refused")
        assert task_id(api, NEW_LEADER, code, "approve") == approve  # nothing moved

        # the administrator uploads his certificate (with its issuing CA), reads the check, registers it
        key, leaf = issuing.issue(name(NEW_LEADER_NAME, "Ủy ban nhân dân xã Hòa An", uid=NEW_LEADER), START)
        certificate_file = tmp_path / f"{NEW_LEADER}.pem"
        certificate_file.write_bytes(pem(leaf, issuing.cert))
        page.get_by_label("Cán bộ", exact=True).select_option(NEW_LEADER)
        page.get_by_label("Tệp chứng thư số", exact=True).set_input_files(certificate_file)
        admin.shot("certificate-chosen")
        page.get_by_role("button", name="Kiểm tra và đăng ký").click()
        expect(page.get_by_role("status").filter(has_text=f"Đã đăng ký chứng thư số cho {NEW_LEADER}.")).to_be_visible()
        expect(page.locator("#check-result")).to_contain_text("Đạt")
        facts = page.locator("dl.facts")
        expect(facts).to_contain_text(f"{NEW_LEADER_NAME} — Ủy ban nhân dân xã Hòa An")
        expect(facts).to_contain_text("CA cấp chứng thư số cho cán bộ")
        expect(facts).to_contain_text("Chữ ký số, Chống chối bỏ")
        expect(page.get_by_text("Mọi lãnh đạo đều có chứng thư số hợp lệ.")).to_be_visible()
        admin.shot("certificate-registered")
        admin.assert_quiet()

        # the leader approves; the workers prepare the result; he signs it with his own key file
        leader.goto(f"/can-bo/nhiem-vu/{approve}", "approve-with-certificate")
        expect(leader.page.locator("#certificate-notice")).to_have_count(0)
        decide(leader.page, "approve", "Đồng ý cấp.")
        sign = task_id(api, NEW_LEADER, code, "sign_result")
        leader.goto(f"/can-bo/nhiem-vu/{sign}")
        signing = reload_until(
            leader.page, lambda: leader.page.locator("form#signing[data-pending]"), "the prepared signature"
        )
        key_file = tmp_path / f"{NEW_LEADER}.p12"
        key_file.write_bytes(p12(key, leaf, [issuing.cert], KEY_PASSPHRASE.encode()))
        signing.locator("input[type=file]").set_input_files(key_file)
        signing.locator("input[type=password]").fill(KEY_PASSPHRASE)
        leader.shot("sign-key-chosen")
        signing.locator("button[type=submit]").click()
        expect(leader.page.locator("#signing-status")).to_have_text(
            "Đã ký: chữ ký đã được gắn vào văn bản.", timeout=WORKER_TIMEOUT_S * 1000
        )
        leader.shot("signed")
        leader.assert_quiet()
        applied = [e for e in api.history(code) if e["kind"] == "signature.applied" and e["actor"] == NEW_LEADER]
        assert applied, "the new leader's signature is not recorded"
    finally:
        api.close()
