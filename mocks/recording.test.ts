/**
 * The masks of a recording and of its replay (recording.ts): numbered in order of first appearance, whatever the
 * addresses are, turned back into this client's own on replay, and the key a replayed request is matched by.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import {
  createRecording,
  EmailMasker,
  loadReplay,
  matchKey,
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
});
