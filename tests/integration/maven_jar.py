"""A jar the tests build from a small Maven project of the repository (Operaton in ``deploy/operaton``, the EU DSS
validator in ``tools/dss-validator``, veraPDF in ``tools/verapdf``): built once per hash of its sources and cached.

:meth:`MavenJar.built` returns ``<cache>/<name>-<hash of pom.xml + src>.jar``, building it when missing: ``mvn -o``
first (everything is in ``~/.m2`` after one online build), online when something is missing. Test processes that
need the jar at once build it once: the others wait on a file lock and find it. Java or Maven missing and a failed
build raise the project's own ``unavailable`` error, which its fixture turns into a failure under ``CI=true``.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

BUILD_SECONDS = 900


@dataclass(frozen=True)
class MavenJar:
    project: Path  # the Maven project (pom.xml and src/)
    cache: Path  # where built jars are kept between sessions
    name: str  # the cached jar's name before its hash
    target: str  # the jar `mvn package` writes in target/
    unavailable: type[Exception]  # raised when Java/Maven is missing or the build fails

    def source_hash(self) -> str:
        """Hash of everything that goes into the jar: pom.xml and src/ (paths and contents)."""
        h = hashlib.sha256()
        files = [self.project / "pom.xml", *sorted(p for p in (self.project / "src").rglob("*") if p.is_file())]
        for p in files:
            h.update(str(p.relative_to(self.project)).encode())
            h.update(b"\0")
            h.update(p.read_bytes())
            h.update(b"\0")
        return h.hexdigest()[:20]

    def built(self) -> Path:
        """The jar for the current sources, built at most once per source hash."""
        for tool in ("java", "mvn"):
            if shutil.which(tool) is None:
                raise self.unavailable(f"{tool} is not installed (Java 17 and Maven are needed)")
        self.cache.mkdir(parents=True, exist_ok=True)
        jar = self.cache / f"{self.name}-{self.source_hash()}.jar"
        if jar.exists():
            return jar
        with (self.cache / "build.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            return jar if jar.exists() else self._build(jar)

    def _mvn(self, args: list[str], log: Path) -> subprocess.CompletedProcess[str]:
        with log.open("a") as out:
            out.write(f"$ mvn {' '.join(args)}\n")
            out.flush()
            return subprocess.run(
                ["mvn", *args], cwd=self.project, stdout=out, stderr=subprocess.STDOUT, text=True, timeout=BUILD_SECONDS
            )

    def _build(self, jar: Path) -> Path:
        log = self.cache / "build.log"
        log.write_text("")
        base = ["-q", "-B", "-DskipTests", "package"]
        done = self._mvn(["-o", *base], log)  # offline first, online when something is missing
        if done.returncode != 0:
            done = self._mvn(base, log)
        built = self.project / "target" / self.target
        if done.returncode != 0 or not built.exists():
            raise self.unavailable(f"mvn package failed:\n{log.read_text(errors='replace')[-4000:]}")
        tmp = jar.with_suffix(f".{os.getpid()}.tmp")
        shutil.copy2(built, tmp)
        tmp.replace(jar)
        return jar
