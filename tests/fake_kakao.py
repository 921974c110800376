"""The Kakao side, for tests and benchmarks: real payload shapes, a simulated KakaoTalk user,
and a fake Kakao platform (Event API and callback URLs) on 127.0.0.1.

Payloads follow `../shared/reference/kakao-skill-api.md`: `EXAMPLE_A` is Kakao's published
example exactly, `EXAMPLE_B_USER_REQUEST` the captured production `userRequest`; the
simulated user's requests are Example B's shape with the utterance, the pressed button's
`extra` as `action.clientExtra` and the matching `flow.trigger.type`, like Open Builder
sends them from a fallback block.

`KakaoUser` talks to a skill server through any `post(body) -> (status, json)` (the aiohttp
test client in tests, a real HTTP session in `bench/kakao.py`), keeps the last answer and
presses buttons by label, following "더보기" pages when the label is on a later page.

`FakeKakao` answers the Event API (`POST /v2/bots/{bot}/talk`, checking the KakaoAK key and
the body's shape, at most 100 users per call), its task results (`GET /v1/tasks/{taskId}`,
also under /v2) and callback URLs (`POST /callback/{id}`), records every call and can be told
to answer 429, 500 or 401 to the next calls. A user key put in `blocked` stands for someone
who blocked the channel: the call is still accepted (`SUCCESS`, as Kakao does), and the task
result lists them as failed. `task_answers` makes the next task results answer an HTTP
status, a body that is not JSON ("garbage"), a task not finished yet ("pending"), or JSON
without the fields expected ("odd"); `fail_item` is the shape of `fail.list` items.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Json = dict[str, Any]

# Kakao's published request example (D1, action section), exactly as published.
EXAMPLE_A: Json = {
    "userRequest": {
        "timezone": "Asia/Seoul",
        "params": {},
        "block": {"id": "<블록 id>", "name": "<블록 이름>"},
        "utterance": "<사용자 발화>",
        "lang": "ko",
        "user": {
            "id": "<사용자 botUserKey>",
            "type": "botUserKey",
            "properties": {"plusfriendUserKey": "<카카오톡 채널 사용자 id>"},
        },
    },
    "contexts": [],
    "bot": {"id": "<봇 id>", "name": "<봇 이름>"},
    "action": {"name": "<스킬 이름>", "clientExtra": None, "params": {}, "id": "<스킬 id>", "detailParams": {}},
}

# A captured production `userRequest` (reference, Example B), with its callbackUrl.
EXAMPLE_B_USER_REQUEST: Json = {
    "block": {"id": "5d300e788192ac000132b8a4", "name": "폴백 블록"},
    "user": {
        "id": "226f81aef15e8f5890425bbeaa5978d54dfc98fadcaa076ed1f635eda11204ba30",
        "type": "botUserKey",
        "properties": {
            "botUserKey": "226f81aef15e8f5890425bbeaa5978d54dfc98fadcaa076ed1f635eda11204ba30",
            "isFriend": True,
            "accountId": "6689190",
            "plusfriendUserKey": "T8x9DhjAiBrv",
            "appUserId": "1234567",
            "talkUserId": "2374607",
            "bot_user_key": "226f81aef15e8f5890425bbeaa5978d54dfc98fadcaa076ed1f635eda11204ba30",
            "plusfriend_user_key": "T8x9DhjAiBrv",
        },
    },
    "utterance": "aaa",
    "params": {"surface": "Kakaotalk.plusfriend"},
    "callbackUrl": "https://bot-api.kakao.com/v1/bots/5ae9b76d7409b11ec845b746!/callback/"
                   "-damddEwVMRHufi6uUr63Ir7veOUGTFaiVhcOWTOhijyBuCT-v4vu6V32YmyF8ZNqI8K7kn_tKY0",
    "lang": "ko",
    "timezone": "Asia/Seoul",
}

BOT_ID = "5ae9b76d7409b11ec845b746"
SECRET_HEADER = "X-JobHub-Skill-Secret"
FALLBACK_BLOCK = {"id": "5d300e788192ac000132b8a4", "name": "폴백 블록"}


def payload(user_key: str, utterance: str, *, extra: Json | None = None, callback_url: str | None = None,
            trigger: str = "TEXT_INPUT") -> Json:
    """A request as Open Builder sends it from the fallback block (Example B's shape)."""
    user_request = copy.deepcopy(EXAMPLE_B_USER_REQUEST)
    user_request["utterance"] = utterance
    user_request["user"]["id"] = user_request["user"]["properties"]["botUserKey"] = user_key
    user_request["user"]["properties"]["bot_user_key"] = user_key
    if callback_url is None:
        del user_request["callbackUrl"]
    else:
        user_request["callbackUrl"] = callback_url
    return {
        "intent": {"id": "5d300e788192ac000132b8a4", "name": "폴백 블록", "extra": {"reason": {"code": 1}}},
        "userRequest": user_request,
        "bot": {"id": BOT_ID + "!", "name": "서울일자리 챗봇"},
        "action": {"name": "jobhub", "clientExtra": extra, "params": {}, "id": "5e0a1b2c3d4e5f", "detailParams": {}},
        "contexts": [],
        "flow": {"lastBlock": FALLBACK_BLOCK, "trigger": {"type": trigger, "referrerBlock": FALLBACK_BLOCK}},
    }


Post = Callable[[Json], Awaitable[tuple[int, Json]]]


def texts_of(template: Json) -> list[str]:
    """Every text a person reads in an answer: bubbles, card titles and descriptions."""
    out: list[str] = []
    for output in template.get("outputs", []):
        if "simpleText" in output:
            out.append(output["simpleText"]["text"])
        cards = [output["textCard"]] if "textCard" in output else output.get("carousel", {}).get("items", [])
        for card in cards:
            out.extend(card[k] for k in ("title", "description") if k in card)
    return out


def buttons_of(template: Json) -> list[Json]:
    """Quick replies and card buttons of an answer, in order."""
    found: list[Json] = []
    for output in template.get("outputs", []):
        cards = [output["textCard"]] if "textCard" in output else output.get("carousel", {}).get("items", [])
        for card in cards:
            found.extend(card.get("buttons", []))
    found.extend(template.get("quickReplies", []))
    return found


class StepFailed(AssertionError):
    pass


@dataclass
class KakaoUser:
    """One person on KakaoTalk, talking to the skill server through `post`."""

    post: Post
    key: str
    answer: Json = field(default_factory=dict)
    status: int = 0

    @property
    def template(self) -> Json:
        return self.answer.get("template", {})

    @property
    def text(self) -> str:
        return "\n".join(texts_of(self.template))

    @property
    def labels(self) -> list[str]:
        return [b.get("messageText") or b["label"] for b in buttons_of(self.template)]

    async def _send(self, body: Json) -> Json:
        self.status, self.answer = await self.post(body)
        if self.status != 200:
            raise StepFailed(f"HTTP {self.status}: {self.answer}")
        return self.answer

    async def say(self, text: str, *, callback_url: str | None = None) -> Json:
        return await self._send(payload(self.key, text, callback_url=callback_url))

    async def tap(self, button: Json) -> Json:
        if button.get("action") == "webLink":
            raise StepFailed("a link button is opened, not pressed")
        trigger = "QUICKREPLY_BUTTON_MESSAGE" if button in self.template.get("quickReplies", []) \
            else "CARD_BUTTON_MESSAGE"
        return await self._send(payload(self.key, button.get("messageText") or button["label"],
                                        extra=button.get("extra"), trigger=trigger))

    def find(self, label: str) -> Json | None:
        return next((b for b in buttons_of(self.template) if label in (b.get("messageText") or b["label"])), None)

    async def press(self, label: str, *, pages: int = 5) -> Json:
        """Press the first button whose full label contains `label`, paging with "더보기"."""
        for _ in range(pages):
            button = self.find(label)
            if button is not None:
                return await self.tap(button)
            more = next((b for b in self.template.get("quickReplies", []) if "more" in (b.get("extra") or {})), None)
            if more is None:
                break
            await self.tap(more)
        raise StepFailed(f"no button {label!r}; buttons: {self.labels}; text: {self.text[:300]}")

    def link(self, label: str) -> str:
        button = next((b for b in buttons_of(self.template) if b.get("action") == "webLink" and label in b["label"]),
                      None)
        if button is None:
            raise StepFailed(f"no link {label!r}; buttons: {self.labels}")
        return str(button["webLinkUrl"])


@dataclass
class Call:
    path: str
    headers: dict[str, str]
    body: Json


class FakeKakao:
    """Kakao's servers as the bot calls them: the Event API and callback URLs."""

    def __init__(self, *, rest_api_key: str = "test-rest-key") -> None:
        self.rest_api_key = rest_api_key
        self.calls: list[Call] = []
        self.callbacks: list[Call] = []
        self.fail_next: list[int] = []  # HTTP statuses to answer to the next Event API calls
        self._tasks = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.base_url = ""
        self.arrived = asyncio.Event()
        self.media: dict[str, bytes] = {}  # what `GET /media/{name}` serves: files people sent
        self.blocked: set[str] = set()  # user keys that blocked the channel
        self.tasks: dict[str, list[str]] = {}  # taskId -> the user keys of its call
        self.task_calls: list[str] = []  # taskIds asked, in order
        self.task_answers: list[int | str] = []  # what the next task results answer instead of the truth
        self.fail_item = "botUserKey"  # "string", or the key's field name in an object ("id", "user", ...)

    async def __aenter__(self) -> FakeKakao:
        app = web.Application()
        app.router.add_post("/v2/bots/{bot_id}/talk", self._talk)
        app.router.add_get("/v1/tasks/{task_id}", self._task)
        app.router.add_get("/v2/tasks/{task_id}", self._task)
        app.router.add_post("/callback/{token}", self._callback)
        app.router.add_get("/media/{name}", self._media)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def event_api_url(self) -> str:
        return self.base_url + "/v2/bots/{bot_id}/talk"

    @property
    def task_url(self) -> str:
        return self.base_url + "/v1/tasks/{task_id}"

    def callback_url(self, token: str = "tok") -> str:
        return f"{self.base_url}/callback/{token}"

    async def _talk(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.calls.append(Call(request.path, dict(request.headers), body))
        self.arrived.set()
        task = f"task-{next(self._tasks)}"
        if request.headers.get("Authorization") != f"KakaoAK {self.rest_api_key}":
            return web.json_response({"taskId": task, "status": "ERROR", "message": "invalid api key"}, status=401)
        if self.fail_next:
            status = self.fail_next.pop(0)
            headers = {"Retry-After": "2"} if status == 429 else {}
            return web.json_response({"taskId": task, "status": "FAIL", "message": "rejected"}, status=status,
                                     headers=headers)
        event, users = body.get("event"), body.get("user")
        if not isinstance(event, dict) or not event.get("name") or not isinstance(users, list) \
                or not 1 <= len(users) <= 100 or len({u.get("id") for u in users}) != len(users):
            return web.json_response({"taskId": task, "status": "FAIL", "message": "invalid request"}, status=400)
        self.tasks[task] = [str(u.get("id")) for u in users]
        return web.json_response({"taskId": task, "status": "SUCCESS", "message": "", "timestamp": 0})

    def _fail_item(self, key: str) -> Any:
        return key if self.fail_item == "string" else {self.fail_item: key, "reason": "blocked"}

    async def _task(self, request: web.Request) -> web.Response:
        task = request.match_info["task_id"]
        self.task_calls.append(task)
        self.arrived.set()
        if request.headers.get("Authorization") != f"KakaoAK {self.rest_api_key}":
            return web.json_response({"status": "ERROR", "message": "invalid api key"}, status=401)
        if task not in self.tasks:
            return web.json_response({"status": "ERROR", "message": "no such task"}, status=404)
        users = self.tasks[task]
        answer = self.task_answers.pop(0) if self.task_answers else None
        if isinstance(answer, int):
            return web.json_response({"status": "ERROR", "message": "unavailable"}, status=answer)
        if answer == "garbage":
            return web.Response(text="<html>502 Bad Gateway</html>", content_type="text/html")
        if answer == "odd":
            return web.json_response({"taskId": task, "result": ["?"], "status": None})
        if answer == "pending":
            return web.json_response({"taskId": task, "status": "PROCESSING", "allRequestCount": len(users),
                                      "successCount": 0, "fail": {"count": 0, "list": []}})
        failed = [key for key in users if key in self.blocked]
        return web.json_response({
            "taskId": task, "status": f"{len(failed)} FAIL" if failed else "ALL SUCCESS",
            "allRequestCount": len(users), "successCount": len(users) - len(failed),
            "fail": {"count": len(failed), "list": [self._fail_item(key) for key in failed]},
        })

    def media_url(self, name: str) -> str:
        return f"{self.base_url}/media/{name}"

    async def _media(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name == "redirect":
            raise web.HTTPFound("http://169.254.169.254/latest/meta-data/")
        if name not in self.media:
            return web.Response(status=404)
        return web.Response(body=self.media[name], content_type="application/octet-stream")

    async def _callback(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.callbacks.append(Call(request.path, dict(request.headers), body))
        self.arrived.set()
        ok = body.get("version") == "2.0" and "template" in body
        return web.json_response({"taskId": "cb", "status": "SUCCESS" if ok else "FAIL", "message": "",
                                  "timestamp": 0})

    async def wait(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        async def loop() -> None:
            while not predicate():
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(loop(), timeout)
