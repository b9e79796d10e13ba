/**
 * The gateway's interactive docs in a real headless Chromium (Debian's package, provisioned by
 * scripts/infra/browser.ts), against the real gateway and users service on port 0:
 * Swagger UI at /docs executes GET /v1/users/{id} and shows the live 200, and GraphiQL at
 * /graphiql runs a users query and shows the data — each under the gateway's security headers and
 * its documentation pages' Content-Security-Policy (no inline code, nothing from another origin),
 * with no CSP violation reported by the browser.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import type { Browser, Page, Response } from "playwright-core";
import { launchBrowser } from "../scripts/infra/index.js";
import { type RunningPlatform, startPlatform } from "../scripts/lib/start-platform.js";
import { loadOpenApiDocument } from "../services/gateway/transport/rest/openapi-document.js";

type Scopes = { components: { securitySchemes: { oauth2: { flows: { clientCredentials: { scopes: object } } } } } };
/** The scopes the users document's oauth2 scheme offers. */
const USERS_SCOPES = Object.keys(
  (loadOpenApiDocument() as unknown as Scopes).components.securitySchemes.oauth2.flows.clientCredentials.scopes,
).sort();

/** Browsers on a 2-core machine next to two services: deadlines are generous on purpose. */
const STEP_MS = 30_000;
const TEST_MS = 180_000;

interface CreatedUser {
  readonly id: string;
  readonly email: string;
}

describe("interactive docs in headless Chromium", { timeout: 600_000 }, () => {
  let platform: RunningPlatform | undefined;
  let browser: Browser | undefined;

  before(async () => {
    platform = await startPlatform();
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await platform?.stop();
  });

  /** The security headers of a documentation page, and a policy that allows nothing inline and nothing foreign. */
  async function assertSecurityHeaders(response: Response | null): Promise<void> {
    assert.ok(response);
    const headers = await response.allHeaders();
    const csp = headers["content-security-policy"] ?? "";
    const policy = new Map(
      csp
        .split(";")
        .map((d) => d.trim().split(/\s+/))
        .map(([name = "", ...sources]) => [name, sources]),
    );
    assert.deepEqual(policy.get("default-src"), ["'self'"], csp);
    assert.deepEqual(policy.get("script-src"), ["'self'"], csp);
    assert.deepEqual(policy.get("frame-ancestors"), ["'none'"], csp);
    const styles = policy.get("style-src") ?? [];
    assert.ok(
      styles.includes("'self'") && styles.every((s) => s === "'self'" || /^'sha256-[A-Za-z0-9+/]+=*'$/.test(s)),
      `style-src: this origin and exact inline texts by hash only: ${csp}`,
    );
    // One foreign origin: the token issuer's, where Swagger UI's "Authorize" asks for a token.
    const issuer = new URL(platform?.issuer?.issuer ?? "http://invalid").origin;
    assert.deepEqual(policy.get("connect-src"), ["'self'", issuer], csp);
    const others = csp.replaceAll(issuer, "");
    assert.ok(
      !/unsafe-(inline|eval)|https?:|\*/.test(others),
      `CSP allows nothing inline, evaluated or foreign: ${csp}`,
    );
    assert.equal(headers["x-content-type-options"], "nosniff");
    assert.equal(headers["x-frame-options"], "SAMEORIGIN");
    assert.equal(headers["referrer-policy"], "no-referrer");
    assert.equal(headers["cross-origin-opener-policy"], "same-origin");
  }

  /** Violations of the page's Content-Security-Policy, as Chromium reports them in the console. */
  const cspViolations = (errors: readonly string[]) => errors.filter((e) => /Content Security Policy/i.test(e));

  /** A page that remembers the errors its scripts hit, for the failure message. */
  async function openPage(): Promise<{ page: Page; errors: string[] }> {
    assert.ok(browser, "the browser was launched");
    const context = await browser.newContext();
    const page = await context.newPage();
    page.setDefaultTimeout(STEP_MS);
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(String(error)));
    page.on("console", (message) => {
      if (message.type() === "error" || /Content Security Policy/i.test(message.text())) errors.push(message.text());
    });
    return { page, errors };
  }

  async function createUser(): Promise<CreatedUser> {
    assert.ok(platform);
    const email = `docs.${randomUUID().slice(0, 8)}@example.com`;
    const response = await fetch(`${platform.baseUrl}/v1/users`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: await platform.authorization() },
      body: JSON.stringify({ name: "Docs Reader", email }),
    });
    assert.equal(response.status, 201, await response.clone().text());
    const { id } = (await response.json()) as { id: string };
    return { id, email };
  }

  /**
   * The contract's tokenUrl names the development issuer's default address; the gateway serves the configured
   * issuer's token endpoint in its place. Where a served document still names another one, the page gets it with
   * this platform's, as the gateway would serve it.
   */
  async function servedWithOurIssuer(page: Page): Promise<void> {
    const tokenEndpoint = platform?.issuer?.tokenEndpoint ?? "";
    await page.route(/\/(openapi\.json|docs\/json)$/, async (route) => {
      const answer = await route.fetch();
      const document = (await answer.json()) as {
        components?: { securitySchemes?: Record<string, { flows?: Record<string, { tokenUrl?: string }> }> };
      };
      for (const scheme of Object.values(document.components?.securitySchemes ?? {})) {
        for (const flow of Object.values(scheme.flows ?? {})) if (flow.tokenUrl) flow.tokenUrl = tokenEndpoint;
      }
      await route.fulfill({ response: answer, json: document });
    });
  }

  test(
    "Swagger UI at /docs: Authorize with the client's id and secret, then GET /v1/users/{id} shows the live 200",
    { timeout: TEST_MS },
    async () => {
      assert.ok(platform);
      const client = platform.issuer?.clients[0];
      assert.ok(client, "the platform runs a development issuer");
      const user = await createUser();
      const { page, errors } = await openPage();
      try {
        await servedWithOurIssuer(page);
        const tokenRequests: { method: string; status: number }[] = [];
        page.on("response", (answer) => {
          if (answer.url() === platform?.issuer?.tokenEndpoint) {
            tokenRequests.push({ method: answer.request().method(), status: answer.status() });
          }
        });
        const response = await page.goto(`${platform.baseUrl}/docs`, { waitUntil: "load" });
        assert.equal(response?.status(), 200, `GET /docs answers ${response?.status()}`);
        await assertSecurityHeaders(response);

        // "Authorize": the contract's oauth2 client-credentials flow, as a developer fills it in.
        await page.locator(".auth-wrapper .authorize").first().click();
        const dialog = page.locator(".modal-ux");
        await dialog.waitFor({ state: "visible" });
        await dialog.locator('input[data-name="clientId"]').first().fill(client.clientId);
        await dialog.locator('input[data-name="clientSecret"]').first().fill(client.clientSecret);
        // Every scope the users document offers, the one Swagger UI shows first (its checkboxes are styled labels).
        const boxes = await dialog
          .locator("input[type=checkbox][data-value]")
          .evaluateAll((inputs) => inputs.map((box) => ({ id: box.id, scope: box.getAttribute("data-value") ?? "" })));
        assert.deepEqual(
          boxes.map((box) => box.scope).sort(),
          USERS_SCOPES,
          "the dialog offers every scope the users document declares",
        );
        for (const { id } of boxes) await dialog.locator(`label[for="${id}"]`).click();
        await dialog.locator("button.modal-btn.authorize").first().click();
        await dialog.locator("button.modal-btn", { hasText: "Logout" }).first().waitFor({ state: "visible" });
        assert.deepEqual(tokenRequests, [{ method: "POST", status: 200 }], "the page got a token from the issuer");
        await dialog.locator("button.btn-done").first().click();

        const operation = page.locator("#operations-users-getUser");
        await operation.waitFor({ state: "visible" });
        await operation.locator(".opblock-summary").first().click();
        await operation.getByRole("button", { name: "Try it out" }).click();

        await operation.locator(".parameters").first().waitFor({ state: "visible" });
        const listed = await operation
          .locator("tr[data-param-name]")
          .evaluateAll((rows) => rows.map((row) => row.getAttribute("data-param-name")));
        assert.ok(
          listed.includes("id"),
          `Swagger UI lists the path parameter id for GET /v1/users/{id}; it lists ${JSON.stringify(listed)}`,
        );
        await operation.locator('tr[data-param-name="id"] input').fill(user.id);
        // Try-it-out prefills the contract's example If-None-Match ("1"), which is a new user's etag: a 304.
        await operation.locator('tr[data-param-name="If-None-Match"] input').fill("");
        await operation.getByRole("button", { name: "Execute" }).click();

        const status = operation.locator(".live-responses-table tbody .response-col_status").first();
        await status.waitFor({ state: "visible" });
        assert.equal((await status.innerText()).trim().split(/\s+/)[0], "200", "the live response status in the UI");
        const body = await operation
          .locator(".live-responses-table tbody .response-col_description")
          .first()
          .innerText();
        assert.ok(body.includes(user.id) && body.includes(user.email), `the UI shows the user: ${body}`);
        const requestUrl = await operation.locator(".request-url").first().innerText();
        assert.ok(requestUrl.includes(`/v1/users/${user.id}`), `the request went to the user's URL: ${requestUrl}`);
        const curl = await operation.locator(".curl-command").first().innerText();
        assert.match(curl, /Authorization: Bearer [\w-]+\.[\w-]+\.[\w-]+/, "the request carried the token");
        assert.deepEqual(cspViolations(errors), [], "Swagger UI works without violating its policy");
      } catch (error) {
        throw new Error(`${String(error)}\npage errors: ${JSON.stringify(errors)}`, { cause: error });
      } finally {
        await page.context().close();
      }
    },
  );

  test("GraphiQL at /graphiql runs a users query through the UI", { timeout: TEST_MS }, async () => {
    assert.ok(platform);
    await createUser();
    // users(first: 1) is the first user in creation order: the same as the REST API's first page.
    const authorization = await platform.authorization();
    const firstPage = await fetch(`${platform.baseUrl}/v1/users?pageSize=1`, { headers: { authorization } });
    assert.equal(firstPage.status, 200);
    const first = ((await firstPage.json()) as { users: CreatedUser[] }).users[0];
    assert.ok(first, "there is a first user");
    const { page, errors } = await openPage();
    try {
      const response = await page.goto(`${platform.baseUrl}/graphiql`, { waitUntil: "load" });
      assert.equal(
        response?.status(),
        200,
        `GET /graphiql answers ${response?.status()}: GraphiQL must be served by services/gateway/main.ts`,
      );
      await assertSecurityHeaders(response);

      const editor = page.locator(".graphiql-query-editor .CodeMirror").first();
      await editor.waitFor({ state: "visible" });
      await editor.click();
      await page.keyboard.press("Control+A");
      await page.keyboard.press("Delete");
      // insertText types no keys, so the editor's bracket auto-closing does not double the braces.
      await page.keyboard.insertText("{ users(first: 1) { edges { node { id email } } } }");
      // The token, in GraphiQL's request headers, as a developer pastes it.
      await page.getByRole("button", { name: "Headers" }).first().click();
      const headers = page.locator(".graphiql-editor-tool .CodeMirror").last();
      await headers.waitFor({ state: "visible" });
      await headers.click();
      await page.keyboard.insertText(JSON.stringify({ Authorization: authorization }));
      const sent = page.waitForRequest((request) => request.url().endsWith("/graphql") && request.method() === "POST");
      await page.locator(".graphiql-execute-button").first().click();
      assert.equal((await sent).headers().authorization, authorization, "the query carried the token");

      const result = page.locator(".graphiql-response").first();
      await result
        .getByText(`"${first.id}"`)
        .waitFor({ state: "visible" })
        .catch(async (error: unknown) => {
          throw new Error(`the result pane never showed the user: ${await result.innerText()}`, { cause: error });
        });
      const text = await result.innerText();
      assert.ok(text.includes('"data"') && text.includes('"users"'), `a data answer: ${text}`);
      assert.ok(text.includes(first.email), `the first user's email: ${text}`);
      assert.ok(!text.includes('"errors"'), `no GraphQL errors: ${text}`);
      assert.deepEqual(cspViolations(errors), [], "GraphiQL works without violating its policy");
    } catch (error) {
      throw new Error(`${String(error)}\npage errors: ${JSON.stringify(errors)}`, { cause: error });
    } finally {
      await page.context().close();
    }
  });
});
