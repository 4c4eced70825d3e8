// browser/problems: a bad document pasted in a form shows the server's own message (its
// problem+json "detail") next to the field the problem's "field" names: in the Models form
// (a model whose P has the wrong shape), in the Submit form (the same model pasted inline:
// the field is under /model), for a bad dt and for a segment past the last step (in the row
// of that segment). Nothing is created. Screenshots: model-error,
// submit-error.
import { scenario, watchPage, screenshot, assert, ms } from './lib.mjs';
import { knownModel } from './fixtures.mjs';

function badModel() {
  const m = knownModel('browser-bad');
  m.input.P = [[0], [0]]; // 2 rows for 8 cells
  return m;
}

/** The error element for `field` is shown with the server's detail, and the nearest element
 *  before it that carries a data-pointer is the input `inputTestId`. */
async function expectFieldError(page, field, detail, inputTestId) {
  const err = page.locator(`[data-testid=field-error][data-field="${field}"]`);
  await err.waitFor({ timeout: ms(20000) });
  const text = await err.textContent();
  assert(text.includes(detail), `field-error for ${field} shows the server's detail "${detail}": "${text}"`);
  const owner = await err.evaluate((e) => {
    const all = [...e.closest('form').querySelectorAll('[data-pointer]')];
    const before = all.filter((x) => x.compareDocumentPosition(e) & Node.DOCUMENT_POSITION_FOLLOWING);
    const near = before[before.length - 1];
    return near ? near.getAttribute('data-testid') : null;
  });
  assert(owner === inputTestId, `the error for ${field} follows ${inputTestId} (follows ${owner})`);
}

/** In the pasted document of textarea `areaTestId`, the member the error names is selected
 *  (its value parses to `value`) and the error says its line (data-line). */
async function expectSelected(page, areaTestId, field, value) {
  const got = await page.locator(`[data-testid=${areaTestId}]`).evaluate((a) => ({
    text: a.value.slice(a.selectionStart, a.selectionEnd),
    line: a.value.slice(0, a.selectionStart).split('\n').length,
  }));
  let parsed = null;
  try { parsed = JSON.parse(got.text); } catch (e) { /* reported below */ }
  assert(JSON.stringify(parsed) === JSON.stringify(value),
    `the pasted document's ${field} is selected: "${got.text}"`);
  const line = await page.locator(`[data-testid=field-error][data-field="${field}"]`).getAttribute('data-line');
  assert(line === String(got.line), `the error for ${field} names line ${got.line} (says ${line})`);
}

await scenario('browser/problems', {}, async ({ daemon, api, context }) => {
  // what the server says about each document, asked directly
  const direct = await api.post('/v1/models', badModel());
  assert(direct.status === 422 && direct.json.field === '/input/P', `POST bad model: ${direct.status} ${JSON.stringify(direct.json)}`);
  const good = await api.must('POST', '/v1/models', knownModel('browser-good'));
  const inline = await api.post('/v1/runs', { model: badModel(), dt: 0.1, inputs: { steps: 10 } });
  assert(inline.status === 422 && inline.json.field === '/model/input/P', `POST run with bad inline model: ${JSON.stringify(inline.json)}`);
  const badSeg = await api.post('/v1/runs', { model_id: good.id, dt: 0.1,
    inputs: { steps: 10, segments: [{ from: 0, to: 10, value: 1 }, { from: 5, to: 50, value: 1 }] } });
  assert(badSeg.status === 422 && badSeg.json.field.startsWith('/inputs/segments/1'), `POST run with a segment past the steps: ${JSON.stringify(badSeg.json)}`);
  const badDt = await api.post('/v1/runs', { model_id: good.id, dt: -1, inputs: { steps: 10 } });
  assert(badDt.status === 422 && badDt.json.field === '/dt', `POST run with dt -1: ${JSON.stringify(badDt.json)}`);

  const page = await context.newPage();
  const watch = watchPage(page);
  watch.expect(422, /^\/v1\/models$/);
  watch.expect(422, /^\/v1\/runs$/);

  // ---- Models form
  await page.goto(`${daemon.base}/#/models`);
  await page.locator('[data-testid=models-table]').waitFor();
  await page.fill('[data-testid=model-json]', JSON.stringify(badModel(), null, 2));
  await page.click('[data-testid=model-create-submit]');
  await expectFieldError(page, '/input/P', direct.json.detail, 'model-json');
  await expectSelected(page, 'model-json', '/input/P', badModel().input.P);
  assert(/#\/models$/.test(page.url()), `still on the models list: ${page.url()}`);
  await screenshot(page, 'model-error');

  // ---- Submit form, the model pasted
  await page.click('[data-testid=nav-submit]');
  await page.locator('[data-testid=submit-form]').waitFor();
  const firstOption = await page.locator('[data-testid=submit-model-select] option').first().getAttribute('value');
  await page.selectOption('[data-testid=submit-model-select]', firstOption ?? '');
  await page.fill('[data-testid=submit-model-json]', JSON.stringify(badModel(), null, 2));
  await page.fill('[data-testid=submit-dt]', '0.1');
  await page.fill('[data-testid=submit-steps]', '10');
  await page.click('[data-testid=submit-button]');
  await expectFieldError(page, '/model/input/P', inline.json.detail, 'submit-model-json');
  await expectSelected(page, 'submit-model-json', '/model/input/P', badModel().input.P);
  await screenshot(page, 'submit-error');

  // ---- Submit form, a stored model and a bad dt
  await page.locator(`[data-testid=submit-model-select] option[value="${good.id}"]`).waitFor({ state: 'attached' });
  await page.selectOption('[data-testid=submit-model-select]', good.id);
  await page.fill('[data-testid=submit-dt]', '-1');
  await page.click('[data-testid=submit-button]');
  await expectFieldError(page, '/dt', badDt.json.detail, 'submit-dt');
  assert(/#\/submit/.test(page.url()), `still on the submit form: ${page.url()}`);

  // ---- Submit form, the second segment past the last step: the error beside that segment
  await page.fill('[data-testid=submit-dt]', '0.1');
  for (const [from, to] of [['0', '10'], ['5', '50']]) {
    await page.click('[data-testid=segment-add]');
    const row = page.locator('[data-testid=segment-row]').last();
    await row.locator('[data-testid=seg-from]').fill(from);
    await row.locator('[data-testid=seg-to]').fill(to);
    await row.locator('[data-testid=seg-value]').fill('1');
  }
  await page.click('[data-testid=submit-button]');
  const segInput = { from: 'seg-from', to: 'seg-to', value: 'seg-value' }[badSeg.json.field.split('/')[4]] || 'segment-row';
  await expectFieldError(page, badSeg.json.field, badSeg.json.detail, segInput);
  const inRow = await page.locator(`[data-testid=field-error][data-field="${badSeg.json.field}"]`)
    .evaluate((e) => [...document.querySelectorAll('[data-testid=segment-row]')].indexOf(e.closest('[data-testid=segment-row]')));
  assert(inRow === 1, `the segment's error is in the second segment row (row ${inRow})`);

  // nothing was created by the page
  const models = await api.must('GET', '/v1/models');
  assert(models.items.length === 1, `one model stored (the good one), found ${models.items.length}`);
  const runs = await api.must('GET', '/v1/runs');
  assert(runs.items.length === 0, `no run stored, found ${runs.items.length}`);
  watch.check('browser/problems');
});
