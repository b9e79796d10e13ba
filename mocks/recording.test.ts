/**
 * The masks of a recording and of its replay (recording.ts): numbered in order of first appearance, whatever the
 * addresses are, turned back into this client's own on replay, and the key a replayed request is matched by.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  createRecording,
  EmailMasker,
  loadReplay,
  matchKey,
  RECORDED_BY,
  type RecordedRpcAnswer,
  recordedRequest,
} from "./recording.js";

describe("the masks of a recording", () => {
  test("each address gets the next number on first sight, compared case-insensitively; capitals stay capitals", () => {
    const masker = new EmailMasker();
    assert.equal(masker.maskText("ada@example.com"), "user-1@example.invalid");
    assert.equal(
      masker.maskText("to grace@example.com and Ada@Example.com"),
      "to user-2@example.invalid and user-1@example.invalid",
    );
    assert.equal(masker.maskText("GRACE@EXAMPLE.COM"), "USER-2@EXAMPLE.INVALID");
    assert.deepEqual(masker.mask({ users: [{ email: "alan@example.com", name: "Alan" }], n: 3 }), {
      users: [{ email: "user-3@example.invalid", name: "Alan" }],
      n: 3,
    });
    assert.equal(masker.maskText("user-7@example.invalid"), "user-7@example.invalid", "a mask is kept as it is");
  });

  test("a replay numbers other addresses the same way and turns the answer's masks into the ones it was sent", () => {
    const recording = new EmailMasker();
    const replay = new EmailMasker();
    for (const [recorded, replayed] of [
      ["ada.1111@example.com", "ada.2222@example.com"],
      ["LOOKUP.1111@EXAMPLE.COM", "LOOKUP.2222@EXAMPLE.COM"],
    ] as const) {
      assert.equal(recording.maskText(recorded), replay.maskText(replayed));
    }
    // An answer names the two addresses and one the client never sent (numbered 3 when recorded).
    const answer = recording.mask({ a: "ada.1111@example.com", b: "lookup.1111@example.com", c: "else@example.com" });
    assert.deepEqual(replay.unmask(answer), {
      a: "ada.2222@example.com",
      b: "lookup.2222@example.com",
      c: "user-3@example.invalid",
    });
    // The number the answer used is taken: the client's next new address is the recording's next one.
    assert.equal(recording.maskText("next.1111@example.com"), replay.maskText("next.2222@example.com"));
  });

  test("a replayed request matches by method, path, query in any order, conditions and body as a value", () => {
    const key = (url: string, headers: Record<string, string>, body: string) =>
      matchKey(
        recordedRequest(new EmailMasker(), "PATCH", url, { "content-type": "application/json", ...headers }, body),
      );
    const base = key("/v1/users/1?a=1&b=2", { "if-match": '"1"' }, '{"name":"A","email":"x@example.com"}');
    assert.equal(base, key("/v1/users/1?b=2&a=1", { "if-match": '"1"' }, '{ "email": "y@example.com", "name": "A" }'));
    assert.equal(
      base,
      key("/v1/users/1?a=1&b=2", { "if-match": '"1"', "idempotency-key": "k" }, '{"name":"A","email":"z@example.com"}'),
    );
    assert.notEqual(base, key("/v1/users/1?a=1&b=2", { "if-match": '"2"' }, '{"name":"A","email":"x@example.com"}'));
    assert.notEqual(base, key("/v1/users/2?a=1&b=2", { "if-match": '"1"' }, '{"name":"A","email":"x@example.com"}'));
    assert.notEqual(base, key("/v1/users/1?a=1&b=2", { "if-match": '"1"' }, '{"name":"B","email":"x@example.com"}'));
  });

  test("a request never keeps its Authorization header", () => {
    const request = recordedRequest(
      new EmailMasker(),
      "GET",
      "/v1/users",
      { authorization: "Bearer a.b.c", cookie: "s=1" },
      "",
    );
    assert.deepEqual(request, { method: "GET", path: "/v1/users", query: "", headers: {} });
  });

  test("gRPC calls share the recording's numbering and sequence; identical calls replay in order, then the last", () => {
    const dir = mkdtempSync(join(tmpdir(), "charter-rpc-recording-"));
    try {
      const recording = createRecording(dir);
      const { masker } = recording;
      const rest = recordedRequest(masker, "GET", "/v1/users:lookup?email=ada.1@example.com", {}, "");
      recording.write({
        operationId: "lookupUser",
        method: "GET",
        path: "/v1/users:lookup",
        interactions: [{ seq: recording.nextSeq(), request: rest, response: { status: 404, headers: {} } }],
      });
      const call = (email: string, name: string) => ({
        seq: recording.nextSeq(),
        request: masker.mask({ email }),
        answer: masker.mask({ message: { user: { name, email } } }) as RecordedRpcAnswer,
      });
      const interactions = [call("grace.1@example.com", "first"), call("grace.1@example.com", "second")];
      recording.write({ service: "charter.users.v1.UsersService", rpc: "LookupUser", interactions });
      assert.deepEqual(
        interactions.map((i) => [i.seq, i.request]),
        [
          [2, { email: "user-2@example.invalid" }],
          [3, { email: "user-2@example.invalid" }],
        ],
      );
      assert.throws(() => createRecording(dir), /already holds a recording/);

      const replay = loadReplay(dir);
      assert.equal(replay.answer("GET", "/v1/users:lookup?email=ada.2@example.com", {}, "")?.status, 404);
      const method = "charter.users.v1.UsersService/LookupUser";
      const answers = [1, 2, 3].map(() => replay.answerRpc(method, { email: "grace.2@example.com" }));
      assert.deepEqual(answers, [
        { message: { user: { name: "first", email: "grace.2@example.com" } } },
        { message: { user: { name: "second", email: "grace.2@example.com" } } },
        { message: { user: { name: "second", email: "grace.2@example.com" } } },
      ]);
      assert.equal(replay.answerRpc(method, { email: "other@example.com" }), undefined, "another request");
      assert.equal(replay.answerRpc("charter.users.v1.UsersService/GetUser", {}), undefined, "another RPC");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a pact file replays as a recording: its examples in the pact's order, addresses masked, headers in lower case", () => {
    // The SDK's consumer pact, as pact:verify reads it: V4, headers as arrays, bodies wrapped in { content }.
    const file = fileURLToPath(new URL("../pacts/charter-sdk-charter-gateway.json", import.meta.url));
    const pact = JSON.parse(readFileSync(file, "utf8")) as {
      interactions: { request: { method: string; path: string; query?: unknown }; response: { status: number } }[];
    };
    const path = "/v1/users/7281634251938816001";
    const expected = pact.interactions
      .filter((i) => i.request.method === "GET" && i.request.path === path && i.request.query === undefined)
      .map((i) => i.response.status);
    assert.ok(expected.includes(200) && expected.includes(404), `the pact reads ${path} found and missing`);
    const replay = loadReplay(file);
    const answers = expected.map(() => replay.answer("GET", path, { authorization: "Bearer x" }, ""));
    assert.deepEqual(
      answers.map((a) => a?.status),
      expected,
    );
    const missing = answers[expected.indexOf(404)];
    assert.equal(missing?.headers["content-type"], "application/problem+json; charset=utf-8");
    assert.equal((missing?.body as { code?: string }).code, "NOT_FOUND");
    // A consumer's pact is its own examples: its addresses are matched and answered as they are, not masked.
    const found = answers[expected.indexOf(200)];
    assert.equal((found?.body as { email?: string }).email, "ada@example.com");
    const created = pact.interactions.find((i) => i.request.method === "POST" && i.request.path === "/v1/users") as
      | { request: { body: { content: unknown } }; response: { status: number } }
      | undefined;
    assert.ok(created, "the pact creates a user");
    const again = replay.answer(
      "POST",
      "/v1/users",
      { "content-type": "application/json" },
      JSON.stringify(created.request.body.content),
    );
    assert.equal(again?.status, created.response.status);
    assert.equal(replay.answer("DELETE", "/v1/nothing-like-it", {}, ""), undefined);

    const notPact = join(mkdtempSync(join(tmpdir(), "charter-not-a-pact-")), "x.json");
    writeFileSync(notPact, JSON.stringify({ consumer: "x" }));
    assert.throws(() => loadReplay(notPact), /not a pact file \(no interactions\)/);
    rmSync(dirname(notPact), { recursive: true, force: true });
  });

  test("a recorded pact replays with its masks: this client's addresses are matched by number and answered back", () => {
    const dir = mkdtempSync(join(tmpdir(), "charter-recorded-pact-"));
    try {
      const file = join(dir, "recorded.json");
      const user = { name: "Ada", email: "user-1@example.invalid" };
      writeFileSync(
        file,
        JSON.stringify({
          consumer: { name: "recorded-client" },
          provider: { name: "charter-gateway" },
          metadata: { pactSpecification: { version: "4.0" }, recordedBy: RECORDED_BY },
          interactions: [
            {
              type: "Synchronous/HTTP",
              request: {
                method: "POST",
                path: "/v1/users",
                headers: { "content-type": ["application/json"] },
                body: { content: user, contentType: "application/json", encoded: false },
              },
              response: {
                status: 201,
                headers: { "content-type": ["application/json"], location: ["/v1/users/1"] },
                body: { content: { id: "1", ...user }, contentType: "application/json", encoded: false },
              },
            },
          ],
        }),
      );
      const replay = loadReplay(file);
      const mine = { name: "Ada", email: "ada.9876@example.org" };
      const answer = replay.answer("POST", "/v1/users", { "content-type": "application/json" }, JSON.stringify(mine));
      assert.deepEqual(answer, {
        status: 201,
        headers: { "content-type": "application/json", location: "/v1/users/1" },
        body: { id: "1", ...mine },
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
