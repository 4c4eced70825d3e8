// browser/token: a daemon with a bearer token. Without it the page shows the token prompt and
// no data; a wrong token is refused with a message; with the right one the data appear, the
// run page plots, the token is sent only as the Authorization header (never in a URL or a
// cookie) and kept in this tab's sessionStorage, a download link saves the API's bytes; a new
// tab asks again. Screenshot: token.
import fs from 'node:fs';
import { scenario, watchPage, screenshot, assert, ms } from './lib.mjs';
import { knownModel, knownRun } from './fixtures.mjs';

const TOKEN = 'browser-test-token-6a1f0c';

await scenario('browser/token', { token: TOKEN }, async ({ daemon, api, context }) => {
  const model = await api.must('POST', '/v1/models', knownModel('browser-secret'));
  const run = await api.must('POST', '/v1/runs', knownRun(model.id));
  await api.waitEnded(`/v1/runs/${run.id}`);
  const anon = await fetch(`${daemon.base}/v1/runs`);
  assert(anon.status === 401, `/v1/runs without the token: ${anon.status}`);

  const page = await context.newPage();
  const watch = watchPage(page);
  watch.expect(401, /^\/v1\//);
  await page.goto(daemon.base + '/');
  const prompt = page.locator('[data-testid=token-prompt]');
  await prompt.waitFor({ state: 'visible' });
  assert(await page.locator('[data-testid=run-row]').count() === 0, 'no run row without the token');
  const body = await page.locator('body').innerText();
  assert(!body.includes(run.id) && !body.includes(model.id), 'no id of a run or a model on the page without the token');
  await screenshot(page, 'token');

  // a wrong token: refused, still no data
  await page.fill('[data-testid=token-input]', 'not-the-token');
  await page.click('[data-testid=token-submit]');
  await page.locator('[data-testid=token-error]').waitFor({ state: 'visible' });
  assert((await page.locator('[data-testid=token-error]').innerText()).trim().length > 0, 'token-error says something');
  await prompt.waitFor({ state: 'visible' });
  assert(await page.locator('[data-testid=run-row]').count() === 0, 'no run row with a wrong token');

  // the right token: the data
  await page.fill('[data-testid=token-input]', TOKEN);
  await page.click('[data-testid=token-submit]');
  await prompt.waitFor({ state: 'hidden' });
  await page.locator(`[data-testid=run-row][data-run-id="${run.id}"]`).waitFor();
  assert(await page.evaluate(() => sessionStorage.getItem('eirnn.token')) === TOKEN, 'the token is in sessionStorage["eirnn.token"]');
  assert(await page.evaluate(() => document.cookie) === '', 'no cookie');
  await page.goto(`${daemon.base}/#/runs/${run.id}`);
  await page.reload(); // the same tab keeps its token: no prompt after a reload
  await page.locator(`[data-testid=run-view][data-run-id="${run.id}"][data-plotted="1"]`).waitFor({ timeout: ms(60000) });
  assert(!(await prompt.isVisible()), 'no prompt after a reload of the same tab');

  // a download link works with the token (the page fetches with the header, then saves)
  const link = page.locator('[data-testid=downloads] a[data-var="r"][data-format="npy"]');
  const [dl] = await Promise.all([page.waitForEvent('download'), link.click()]);
  const saved = fs.readFileSync(await dl.path());
  const res = await fetch(`${daemon.base}/v1/runs/${run.id}/results/r?format=npy`, { headers: { Authorization: `Bearer ${TOKEN}` } });
  const direct = Buffer.from(await res.arrayBuffer());
  assert(res.status === 200 && saved.equals(direct), `the downloaded r.npy (${saved.length} bytes) is the API's (${direct.length} bytes)`);

  let withHeader = 0;
  for (const req of watch.requests) {
    assert(!req.url().includes(TOKEN), `the token is not in a URL: ${req.url()}`);
    const auth = (await req.allHeaders()).authorization;
    if (auth === `Bearer ${TOKEN}`) withHeader++;
    const path = new URL(req.url()).pathname;
    if (auth === `Bearer ${TOKEN}`)
      assert(path.startsWith('/v1/') || path === '/healthz', `the token is sent to the API only, not to ${path}`);
  }
  assert(withHeader > 0, 'API requests carry Authorization: Bearer <token>');

  // a new tab asks again (sessionStorage is per tab)
  const tab = await context.newPage();
  const watch2 = watchPage(tab);
  watch2.expect(401, /^\/v1\//);
  await tab.goto(daemon.base + '/');
  await tab.locator('[data-testid=token-prompt]').waitFor({ state: 'visible' });
  watch.check('browser/token (first tab)');
  watch2.check('browser/token (second tab)');
});
