// Swagger UI in a real browser (Debian's chromium driven by playwright-core):
// authorize with the OAuth2 password form as a registered user, "Try it out"
// on GET /posts and expect 200; then the same with a pasted bearer token.
// Fails if the page loads anything from another host.
//
// Usage: node check.mjs http://127.0.0.1:PORT  (screenshots go to $SCREENSHOTS)
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";

const base = process.argv[2];
const shots = process.env.SCREENSHOTS ?? "ci-artifacts/browser";
const chrome = process.env.CHROMIUM ?? "/usr/bin/chromium";
mkdirSync(shots, { recursive: true });

const email = `browser-${Date.now()}@example.com`;
const password = "browser-password";

async function api(path, init) {
  const answer = await fetch(base + path, init);
  if (!answer.ok) throw new Error(`${path}: ${answer.status} ${await answer.text()}`);
  return answer.status === 204 ? null : answer.json();
}

await api("/users", {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ email, password }),
});
await api("/posts", {
  method: "POST",
  headers: {
    "content-type": "application/json",
    authorization: `Bearer ${(await api("/login", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ username: email, password }),
    })).access_token}`,
  },
  body: JSON.stringify({ title: "seen from the browser", content: "hello" }),
});

const origin = new URL(base).host;
const foreign = [];
const browser = await chromium.launch({
  executablePath: chrome,
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
let failed = false;
let page;
try {
  page = await browser.newPage({ viewport: { width: 1280, height: 1800 } });
  page.on("request", (req) => {
    const url = new URL(req.url());
    if (!["data:", "blob:"].includes(url.protocol) && url.host !== origin) {
      foreign.push(req.url());
    }
  });
  page.setDefaultTimeout(15000);

  await page.goto(`${base}/docs`, { waitUntil: "networkidle" });
  await page.waitForSelector("#operations-Posts-list_posts");

  // 1. The OAuth2 password form.
  await page.click("button.authorize");
  const oauth = page.locator(".auth-container", { hasText: "PasswordFlow" });
  await oauth.locator("#oauth_username").fill(email);
  await oauth.locator("#oauth_password").fill(password);
  await oauth.locator("button.authorize").click();
  await oauth.locator("button", { hasText: "Logout" }).waitFor();
  await page.screenshot({ path: `${shots}/1-oauth2-authorized.png` });
  await page.click(".modal-ux .close-modal");
  const status1 = await tryListPosts(page);
  await page.screenshot({ path: `${shots}/2-oauth2-get-posts.png`, fullPage: true });
  check(status1 === "200", `OAuth2 password flow: GET /posts answered ${status1}`);

  // 2. A pasted bearer token, in a fresh page (nothing authorized yet).
  const token = (await api("/login", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ username: email, password }),
  })).access_token;
  await page.goto(`${base}/docs`, { waitUntil: "networkidle" });
  await page.waitForSelector("#operations-Posts-list_posts");
  await page.click("button.authorize");
  const bearer = page.locator(".auth-container", { hasText: "BearerToken" });
  await bearer.locator("input").first().fill(token);
  await bearer.locator("button.authorize").click();
  await bearer.locator("button", { hasText: "Logout" }).waitFor();
  await page.screenshot({ path: `${shots}/3-bearer-authorized.png` });
  await page.click(".modal-ux .close-modal");
  const status2 = await tryListPosts(page);
  await page.screenshot({ path: `${shots}/4-bearer-get-posts.png`, fullPage: true });
  check(status2 === "200", `pasted bearer token: GET /posts answered ${status2}`);

  check(foreign.length === 0, `requests to other hosts: ${foreign.length ? foreign.join(", ") : "none"}`);
} catch (error) {
  await page?.screenshot({ path: `${shots}/failure.png`, fullPage: true }).catch(() => {});
  throw error;
} finally {
  await browser.close();
}
if (failed) process.exit(1);
console.log("browser check passed: OAuth2 password flow and pasted bearer token both gave 200, no foreign requests");

/** Expands GET /posts, clicks "Try it out" and "Execute"; the status shown. */
async function tryListPosts(page) {
  const op = page.locator("#operations-Posts-list_posts");
  if (!(await op.locator(".try-out").isVisible())) {
    await op.locator(".opblock-summary").click();
  }
  const tryOut = op.locator("button.try-out__btn");
  if ((await tryOut.textContent()).includes("Try it out")) await tryOut.click();
  await op.locator("button.execute").click();
  const cell = op.locator(".live-responses-table .response .response-col_status").first();
  await cell.waitFor();
  return (await cell.textContent()).trim();
}

function check(ok, message) {
  if (!ok) {
    console.error(`FAILED: ${message}`);
    failed = true;
  } else {
    console.log(`ok: ${message}`);
  }
}
