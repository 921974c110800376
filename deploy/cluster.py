"""A local production set-up on 127.0.0.1: PostgreSQL, N workers, nginx in front.

    python deploy/cluster.py --workers 3           # until Ctrl-C; prints the URLs
    python deploy/cluster.py --workers 3 --env .env  # with your tokens (TELEGRAM_BOT_TOKEN, ...)

What it starts, all on free ports and in one temporary directory, all stopped at exit:
a throwaway PostgreSQL cluster (`tests.pg`), the schema (`python -m bot db upgrade`, once,
before any worker), N workers (`python -m bot serve`, each its own process on its own
WEBHOOK_PORT, exactly what `deploy/jobhub@.service` runs), and nginx with the
configuration of `deploy/nginx.conf` (its upstream rewritten to the workers' ports, its
`listen` to a free port). WEBHOOK_URL and PUBLIC_BASE_URL point at nginx, so Telegram's
webhook, the Kakao skill and file links all go through it.

`Cluster` is also what `bench/cluster.py` and the fault tests drive: `kill(i)` sends a
worker SIGKILL, `start_worker(i)` brings it back, `stop()` ends everything.
Needs nginx (`apt-get install nginx`) and the PostgreSQL server binaries.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.pg import PostgresServer  # noqa: E402

NGINX_SITE = REPO / "deploy" / "nginx.conf"
WEBHOOK_PATH = "/telegram/webhook"
START_TIMEOUT = 60.0


class ClusterError(RuntimeError):
    """A part of the set-up did not start (its log tail is in the message)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def find_nginx() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx", "/sbin/nginx") if os.path.exists(p)), None)


def nginx_config(site: str, prefix: Path, listen: int, ports: list[int]) -> str:
    """deploy/nginx.conf with the workers' ports and a local listen port, in a whole nginx.conf."""
    servers = "".join(f"    server 127.0.0.1:{port} max_fails=1 fail_timeout=3s;\n" for port in ports)
    site = re.sub(r"(upstream jobhub_workers \{\n(?:\s*#.*\n)*)(?:\s*server .*\n)+", lambda m: m.group(1) + servers,
                  site, count=1)
    site = re.sub(r"listen 80;", f"listen 127.0.0.1:{listen};", site, count=1)
    temp = "\n".join(f"    {name}_temp_path {prefix / name};" for name in
                     ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    user = "user nobody nogroup;\n" if os.geteuid() == 0 else ""
    return (f"{user}worker_processes 1;\npid {prefix / 'nginx.pid'};\nerror_log {prefix / 'error.log'} warn;\n"
            f"events {{ worker_connections 2048; }}\n"
            f"http {{\n    access_log off;\n{temp}\n{site}\n}}\n")


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


class Cluster:
    def __init__(self, workers: int, *, env: dict[str, str] | None = None, workdir: Path | None = None,
                 pg: PostgresServer | None = None, database: str = "jobhub", nginx: bool = True) -> None:
        self.count = workers
        self._own_dir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="jobhub-cluster-"))
        self.extra_env = dict(env or {})
        self._own_pg = pg is None
        self.pg = pg or PostgresServer()
        self.database = database
        self.ports = [free_port() for _ in range(workers)]
        self.nginx_port = free_port()
        self.with_nginx = nginx
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * workers
        self.nginx: subprocess.Popen[bytes] | None = None

    # --- addresses -------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.nginx_port}"

    @property
    def database_url(self) -> str:
        return self.pg.url(self.database)

    def env(self, port: int | None = None) -> dict[str, str]:
        # A clean environment and a cwd without .env: only what is set here reaches the workers.
        env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR") if key in os.environ}
        env.update({
            "PYTHONPATH": os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]),
            "PYTHONUNBUFFERED": "1",
            "DATABASE_URL": self.database_url,
            "WEBHOOK_URL": self.url + WEBHOOK_PATH,
            "WEBHOOK_SECRET": "cluster-webhook-secret",
            "KAKAO_SKILL_SECRET": "cluster-skill-secret",
            "PUBLIC_BASE_URL": self.url,
            "WEBHOOK_LISTEN": "127.0.0.1",
            "LOG_LEVEL": "WARNING",
            **self.extra_env,
        })
        if port is not None:
            env["WEBHOOK_PORT"] = str(port)
        return env

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> Cluster:
        try:
            if not self.pg.running:
                self.pg.start()
            self.pg.create_database(self.database)
            self.bot("db", "upgrade")
            for i in range(self.count):
                self.start_worker(i, wait=False)
            for i in range(self.count):
                self.wait_healthy(i)
            if self.with_nginx:
                self.start_nginx()
        except BaseException:
            self.stop()
            raise
        return self

    def bot(self, *args: str) -> str:
        """One `python -m bot ...` command against the cluster's database (e.g. `counselors import`)."""
        done = subprocess.run([sys.executable, "-m", "bot", *args], cwd=self.workdir, env=self.env(),
                              capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise ClusterError(f"python -m bot {' '.join(args)} failed: {done.stderr.strip()[-2000:]}")
        return done.stdout

    def log_path(self, i: int) -> Path:
        return self.workdir / f"worker-{i}.log"

    def start_worker(self, i: int, *, wait: bool = True) -> None:
        with open(self.log_path(i), "ab") as log:
            self.procs[i] = subprocess.Popen([sys.executable, "-m", "bot", "serve"], cwd=self.workdir,
                                             env=self.env(self.ports[i]), stdin=subprocess.DEVNULL,
                                             stdout=log, stderr=subprocess.STDOUT)
        if wait:
            self.wait_healthy(i)

    def wait_healthy(self, i: int) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            proc = self.procs[i]
            if proc is None or proc.poll() is not None:
                raise ClusterError(f"worker {i} exited:\n{self.log_tail(i)}")
            if _healthy(f"http://127.0.0.1:{self.ports[i]}/healthz"):
                return
            time.sleep(0.1)
        raise ClusterError(f"worker {i} not healthy after {START_TIMEOUT:.0f}s:\n{self.log_tail(i)}")

    def start_nginx(self) -> None:
        binary = find_nginx()
        if binary is None:
            raise ClusterError("nginx is not installed (apt-get install nginx)")
        prefix = self.workdir / "nginx"
        prefix.mkdir(exist_ok=True)
        prefix.chmod(0o777)  # nginx's workers run as nobody when this is root; a throwaway directory
        conf = prefix / "nginx.conf"
        conf.write_text(nginx_config(NGINX_SITE.read_text(), prefix, self.nginx_port, self.ports))
        log = open(prefix / "stderr.log", "wb")  # noqa: SIM115 - kept open for the process's life
        self.nginx = subprocess.Popen([binary, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log"),
                                       "-g", "daemon off;"], stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.nginx.poll() is not None:
                raise ClusterError("nginx exited: " + (prefix / "stderr.log").read_text()[-2000:]
                                   + (prefix / "error.log").read_text()[-2000:])
            if _healthy(self.url + "/healthz"):
                return
            time.sleep(0.1)
        raise ClusterError("nginx did not answer /healthz")

    def alive(self, i: int) -> bool:
        proc = self.procs[i]
        return proc is not None and proc.poll() is None

    def kill(self, i: int, sig: signal.Signals = signal.SIGKILL) -> None:
        proc = self.procs[i]
        if proc is not None and proc.poll() is None:
            proc.send_signal(sig)
            proc.wait(30)

    def log_tail(self, i: int, lines: int = 30) -> str:
        path = self.log_path(i)
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        for i in range(self.count):
            proc = self.procs[i]
            if proc is not None and proc.poll() is None:
                proc.terminate()
        for i in range(self.count):
            proc = self.procs[i]
            if proc is not None:
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        if self.nginx is not None and self.nginx.poll() is None:
            self.nginx.terminate()
            try:
                self.nginx.wait(10)
            except subprocess.TimeoutExpired:
                self.nginx.kill()
                self.nginx.wait()
        if self._own_pg:
            self.pg.stop()
        elif self.pg.running:
            with contextlib.suppress(Exception):
                self.pg.drop_database(self.database)
        if self._own_dir and not os.environ.get("JOBHUB_CLUSTER_KEEP"):  # set it to read the logs afterwards
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Cluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip().strip("'\"")
    return values


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--env", type=Path, help="a .env file with tokens and other settings for the workers")
    args = parser.parse_args()
    extra = _read_env_file(args.env) if args.env else {}
    cluster = Cluster(args.workers, env=extra)
    try:
        cluster.start()
    except ClusterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"nginx:     {cluster.url}  (/healthz, {WEBHOOK_PATH}, /kakao/skill, /files/)")
    for i, port in enumerate(cluster.ports):
        print(f"worker {i}:  http://127.0.0.1:{port}  (log {cluster.log_path(i)})")
    print(f"database:  {cluster.database_url}")
    print("Ctrl-C stops everything.")

    def _interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _interrupt)
    try:
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C or SIGTERM: the way to stop it
            while True:
                time.sleep(3600)
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
