// Website settings (snippet, name and time zone, goals, funnels, share links, deletion)
// and the "add a website" page.

import { h, replace, icon, toast, copyText, confirmButton } from './dom.js';
import { api } from './api.js';
import { fmtDateTime } from './format.js';
import { snippetFor } from './dashboard.js';

let zoneList = null;
function timeZones(current) {
  if (!zoneList) {
    let zones = [];
    try { zones = Intl.supportedValuesOf('timeZone'); } catch { zones = []; }
    zoneList = [...new Set(['UTC', ...zones])].sort((a, b) => (a === 'UTC' ? -1 : b === 'UTC' ? 1 : a.localeCompare(b)));
  }
  return current && !zoneList.includes(current) ? [current, ...zoneList] : zoneList;
}
export function browserTimeZone() {
  try { return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'; } catch { return 'UTC'; }
}
function zoneSelect(id, value) {
  const sel = h('select', { class: 'select', id, name: 'timeZone' }, timeZones(value).map((z) => h('option', { value: z }, z.replaceAll('_', ' '))));
  sel.value = value;
  return sel;
}
const field = (label, input, hint) => h('label', { class: 'field' }, h('span', { class: 'field-label' }, label), input, hint ? h('span', { class: 'field-hint muted' }, hint) : null);
const formError = () => h('p', { class: 'form-error', role: 'alert', hidden: true });
function showError(el, err) { el.textContent = err?.message || String(err); el.hidden = false; }

function section(id, title, intro, ...content) {
  return h('section', { class: 'panel settings-section', id, 'aria-labelledby': `${id}-title` },
    h('h2', { class: 'panel-title', id: `${id}-title` }, title),
    intro ? h('p', { class: 'muted section-intro' }, intro) : null,
    ...content);
}

async function copyButtonAction(text, what) {
  toast(await copyText(text) ? `${what} copied` : 'Copy failed; select the text and copy it instead', 'ok');
}

export function createSettings(app) {
  const site = app.site;
  const el = h('div', { class: 'settings', dataset: { websiteId: site.id } });

  // ---- snippet ----
  const snippet = snippetFor(app.config, site);
  const snippetSection = section('snippet', 'Tracking snippet',
    `Paste this into the <head> of every page of ${site.domain} (and its sub-domains). It sets no cookies.`,
    h('div', { class: 'snippet' },
      h('code', { class: 'snippet-code', id: 'snippet-code' }, snippet),
      h('button', { type: 'button', class: 'btn btn-small', id: 'copy-snippet', onclick: () => copyButtonAction(snippet, 'Snippet') }, icon('copy'), 'Copy')),
    h('p', { class: 'muted small' }, 'Website id: ', h('code', { class: 'inline-code' }, site.id)));

  // ---- general ----
  const nameInput = h('input', { class: 'input', id: 'site-name', name: 'name', value: site.name, maxlength: '200', required: true });
  const zone = zoneSelect('site-zone', site.timeZone);
  const generalError = formError();
  const generalForm = h('form', { class: 'form form-inline-grid', id: 'general-form' },
    field('Name', nameInput),
    field('Domain', h('input', { class: 'input', value: site.domain, readonly: true, 'aria-readonly': 'true' }), 'The domain cannot be changed.'),
    field('Time zone', zone, 'Days and hours of the stats are counted in this zone. Changing it re-counts the history.'),
    generalError,
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary' }, 'Save')));
  generalForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    generalError.hidden = true;
    const body = {};
    if (nameInput.value.trim() !== site.name) body.name = nameInput.value.trim();
    if (zone.value !== site.timeZone) body.timeZone = zone.value;
    if (!Object.keys(body).length) { toast('Nothing changed', 'ok'); return; }
    try {
      const updated = await api.updateWebsite(site.id, body);
      Object.assign(site, updated);
      app.sitesChanged(updated);
      toast('Settings saved', 'ok');
    } catch (err) { showError(generalError, err); }
  });
  const generalSection = section('general', 'General', null, generalForm);

  // ---- goals ----
  const goalList = h('ul', { class: 'item-list', id: 'goal-list' });
  const goalKind = h('select', { class: 'select', id: 'goal-kind', 'aria-label': 'Goal type' },
    h('option', { value: 'event' }, 'Custom event'), h('option', { value: 'page' }, 'Page visit'));
  const goalValue = h('input', { class: 'input', id: 'goal-value', required: true, placeholder: 'Signup', maxlength: '500', 'aria-label': 'Event name' });
  const goalName = h('input', { class: 'input', id: 'goal-name', placeholder: 'Display name (optional)', maxlength: '200', 'aria-label': 'Display name' });
  goalKind.addEventListener('change', () => {
    const page = goalKind.value === 'page';
    goalValue.placeholder = page ? '/thanks or /blog/*' : 'Signup';
    goalValue.setAttribute('aria-label', page ? 'Page path' : 'Event name');
  });
  const goalError = formError();
  const goalForm = h('form', { class: 'form form-row', id: 'goal-form' }, goalKind, goalValue, goalName,
    h('button', { type: 'submit', class: 'btn btn-primary' }, icon('plus'), 'Add goal'));
  let goals = [];
  goalForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    goalError.hidden = true;
    const v = goalValue.value.trim();
    if (!v) return;
    const body = goalKind.value === 'page' ? { pagePath: v } : { eventName: v };
    if (goalName.value.trim()) body.name = goalName.value.trim();
    try {
      await api.createGoal(site.id, body);
      goalValue.value = '';
      goalName.value = '';
      toast('Goal added', 'ok');
      await loadGoals();
    } catch (err) { showError(goalError, err); }
  });
  async function loadGoals() {
    try {
      goals = (await api.goals(site.id)).goals;
    } catch (err) {
      replace(goalList, h('li', {}, h('p', { class: 'form-error' }, err.message)));
      return;
    }
    replace(goalList, goals.length ? goals.map((g) => h('li', { class: 'item', dataset: { goalId: g.id } },
      h('div', { class: 'item-main' },
        h('span', { class: 'goal-kind' }, g.type === 'event' ? 'Event' : 'Page'), ' ',
        h('strong', {}, g.name),
        g.name !== (g.eventName || g.pagePath) ? h('span', { class: 'muted' }, ` ${g.eventName || g.pagePath}`) : null),
      confirmButton('Delete', 'Really delete?', async () => {
        try { await api.deleteGoal(site.id, g.id); toast('Goal deleted', 'ok'); await loadGoals(); } catch (err) { toast(err.message, 'error'); }
      }, { class: 'btn btn-small btn-danger-quiet', 'aria-label': `Delete goal ${g.name}` })))
      : h('li', { class: 'empty' }, 'No goals yet.'));
    renderFunnelForm();
  }
  const goalsSection = section('goals', 'Goals',
    'A goal counts the visitors who sent a custom event (such as Signup) or saw a page (/thanks; * stands for any text within a path segment, ** for any text).',
    goalList, goalForm, goalError);

  // ---- funnels ----
  const funnelList = h('ul', { class: 'item-list', id: 'funnel-list' });
  const funnelFormBox = h('div', {});
  const funnelError = formError();
  let stepCount = 2;
  function renderFunnelForm() {
    if (goals.length < 2) {
      replace(funnelFormBox, h('p', { class: 'muted' }, 'Add at least two goals to build a funnel from them.'));
      return;
    }
    const name = h('input', { class: 'input', id: 'funnel-name', required: true, maxlength: '200', placeholder: 'Funnel name, e.g. Buy', 'aria-label': 'Funnel name' });
    const steps = h('ol', { class: 'funnel-steps-form' });
    const addStep = (goalId) => {
      const sel = h('select', { class: 'select', 'aria-label': `Step ${steps.children.length + 1}` }, goals.map((g) => h('option', { value: g.id }, g.name)));
      if (goalId) sel.value = goalId;
      const li = h('li', { class: 'funnel-step-field' }, sel,
        h('button', {
          type: 'button', class: 'btn btn-icon btn-small', 'aria-label': 'Remove this step', title: 'Remove step',
          onclick: () => { if (steps.children.length > 2) { li.remove(); sync(); } },
        }, icon('close')));
      steps.append(li);
      sync();
    };
    const more = h('button', { type: 'button', class: 'btn btn-small', onclick: () => addStep(goals[steps.children.length % goals.length].id) }, icon('plus'), 'Add step');
    function sync() {
      [...steps.children].forEach((li, i) => li.querySelector('select').setAttribute('aria-label', `Step ${i + 1}`));
      more.disabled = steps.children.length >= 8;
    }
    for (let i = 0; i < stepCount; i++) addStep(goals[i % goals.length].id);
    const form = h('form', { class: 'form', id: 'funnel-form' }, name, steps,
      h('div', { class: 'form-actions' }, more, h('button', { type: 'submit', class: 'btn btn-primary' }, 'Add funnel')));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      funnelError.hidden = true;
      try {
        await api.createFunnel(site.id, { name: name.value.trim(), steps: [...steps.querySelectorAll('select')].map((s) => s.value) });
        toast('Funnel added', 'ok');
        app.funnelsChanged();
        await loadFunnels();
        renderFunnelForm();
      } catch (err) { showError(funnelError, err); }
    });
    replace(funnelFormBox, form);
  }
  async function loadFunnels() {
    let funnels;
    try { funnels = (await api.funnels(site.id)).funnels; } catch (err) {
      replace(funnelList, h('li', {}, h('p', { class: 'form-error' }, err.message)));
      return;
    }
    replace(funnelList, funnels.length ? funnels.map((f) => h('li', { class: 'item', dataset: { funnelId: f.id } },
      h('div', { class: 'item-main' }, h('strong', {}, f.name), h('span', { class: 'muted funnel-path' }, ` ${f.steps.map((st) => st.name).join(' → ')}`)),
      confirmButton('Delete', 'Really delete?', async () => {
        try { await api.deleteFunnel(site.id, f.id); toast('Funnel deleted', 'ok'); app.funnelsChanged(); await loadFunnels(); } catch (err) { toast(err.message, 'error'); }
      }, { class: 'btn btn-small btn-danger-quiet', 'aria-label': `Delete funnel ${f.name}` })))
      : h('li', { class: 'empty' }, 'No funnels yet.'));
  }
  const funnelsSection = section('funnels', 'Funnels',
    'A funnel follows the visitors of one visit through 2 to 8 goals in order, and shows where they drop off.',
    funnelList, funnelFormBox, funnelError);

  // ---- shares ----
  const shareList = h('ul', { class: 'item-list', id: 'share-list' });
  const shareLabel = h('input', { class: 'input', id: 'share-label', placeholder: 'Label (optional), e.g. Team', maxlength: '200', 'aria-label': 'Share link label' });
  const shareError = formError();
  const shareForm = h('form', { class: 'form form-row', id: 'share-form' }, shareLabel, h('button', { type: 'submit', class: 'btn btn-primary' }, icon('link'), 'Create link'));
  const shareUrl = (sh) => new URL(sh.url || `/share/${encodeURIComponent(sh.token)}`, location.origin).href;
  shareForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    shareError.hidden = true;
    try {
      const sh = await api.createShare(site.id, shareLabel.value.trim());
      shareLabel.value = '';
      await loadShares();
      await copyText(shareUrl(sh)).then((ok) => toast(ok ? 'Share link created and copied' : 'Share link created', 'ok'));
    } catch (err) { showError(shareError, err); }
  });
  async function loadShares() {
    let shares;
    try {
      shares = await api.shares(site.id);
      if (!Array.isArray(shares)) shares = shares?.shares || [];
    } catch (err) {
      replace(shareList, h('li', {}, h('p', { class: 'form-error' }, err.message)));
      return;
    }
    replace(shareList, shares.length ? shares.map((sh) => {
      const url = shareUrl(sh);
      return h('li', { class: 'item item-share', dataset: { shareId: sh.id, token: sh.token } },
        h('div', { class: 'item-main' },
          h('strong', {}, sh.label || 'Share link'),
          h('span', { class: 'muted small' }, ` created ${fmtDateTime(sh.createdAt)}`),
          h('input', { class: 'input input-url share-url', readonly: true, value: url, 'aria-label': `Share link ${sh.label || ''}`, onfocus: (e) => e.target.select() })),
        h('div', { class: 'item-actions' },
          h('button', { type: 'button', class: 'btn btn-small share-copy', onclick: () => copyButtonAction(url, 'Link') }, icon('copy'), 'Copy'),
          h('a', { class: 'btn btn-small', href: url, target: '_blank', rel: 'noopener' }, 'Open'),
          confirmButton('Revoke', 'Really revoke?', async () => {
            try { await api.deleteShare(site.id, sh.id); toast('Link revoked', 'ok'); await loadShares(); } catch (err) { toast(err.message, 'error'); }
          }, { class: 'btn btn-small btn-danger-quiet share-revoke', 'aria-label': `Revoke share link ${sh.label || ''}` })));
    }) : h('li', { class: 'empty' }, 'No share links yet.'));
  }
  const sharesSection = section('shares', 'Share links',
    'Anyone with a share link can see this dashboard, read-only, without logging in. Revoke a link to end that at once.',
    shareList, shareForm, shareError);

  // ---- email reports (the account's, for all its websites) ----
  const reportSelect = h('select', { class: 'select', id: 'report-frequency', 'aria-label': 'Email reports' },
    [['off', 'Off'], ['daily', 'Daily'], ['weekly', 'Weekly (Mondays)'], ['monthly', 'Monthly (on the 1st)']]
      .map(([value, label]) => h('option', { value }, label)));
  reportSelect.value = app.user?.report || 'off';
  const reportError = formError();
  reportSelect.addEventListener('change', async () => {
    reportError.hidden = true;
    try {
      const updated = await api.updateMe({ report: reportSelect.value });
      app.user = { ...app.user, ...updated };
      toast(updated.report === 'off' ? 'Email reports are off' : `Email reports: ${updated.report}`, 'ok');
    } catch (err) { showError(reportError, err); reportSelect.value = app.user?.report || 'off'; }
  });
  const reportSection = section('reports', 'Email reports',
    `A summary of visitors, visits, page views, bounce rate, visit duration, top pages, sources and goals of each of your websites, mailed to ${app.user?.email || 'you'}.`,
    h('div', { class: 'form form-row' }, reportSelect), reportError);

  // ---- delete ----
  const confirmInput = h('input', { class: 'input', id: 'delete-confirm', autocomplete: 'off', placeholder: site.domain, 'aria-label': `Type ${site.domain} to confirm` });
  const deleteBtn = h('button', { type: 'submit', class: 'btn btn-danger', id: 'delete-website', disabled: true }, icon('trash'), 'Delete website');
  confirmInput.addEventListener('input', () => { deleteBtn.disabled = confirmInput.value.trim().toLowerCase() !== site.domain; });
  const deleteError = formError();
  const deleteForm = h('form', { class: 'form form-row', id: 'delete-form' }, confirmInput, deleteBtn);
  deleteForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (confirmInput.value.trim().toLowerCase() !== site.domain) return;
    deleteBtn.disabled = true;
    try {
      await api.deleteWebsite(site.id);
      toast(`${site.domain} and all its data were deleted`, 'ok');
      await app.siteDeleted(site.id);
    } catch (err) { showError(deleteError, err); deleteBtn.disabled = false; }
  });
  const dangerSection = section('danger', 'Delete website',
    `This deletes ${site.domain} with every event, goal, funnel and share link at once. It cannot be undone. Type the domain to confirm.`,
    deleteForm, deleteError);
  dangerSection.classList.add('danger-zone');

  el.append(
    h('div', { class: 'settings-head' },
      h('h1', {}, 'Settings'),
      h('a', { class: 'btn', href: app.hrefFor({ view: 'dashboard' }) }, icon('chart'), 'Back to the dashboard')),
    h('nav', { class: 'settings-nav', 'aria-label': 'Settings sections' },
      [['snippet', 'Snippet'], ['general', 'General'], ['goals', 'Goals'], ['funnels', 'Funnels'], ['shares', 'Share links'], ['reports', 'Email reports'], ['danger', 'Delete']]
        .map(([id, label]) => h('a', { href: `#${id}` }, label))),
    snippetSection, generalSection, goalsSection, funnelsSection, sharesSection, reportSection, dangerSection);

  Promise.all([loadGoals(), loadFunnels(), loadShares()]).finally(() => {
    el.dataset.state = 'ready';
    if (location.hash) document.getElementById(location.hash.slice(1))?.scrollIntoView();
  });
  return { el, site, destroy() {} };
}

export function newWebsiteView(app, { first = false } = {}) {
  const name = h('input', { class: 'input', id: 'new-name', required: true, maxlength: '200', placeholder: 'My blog' });
  const domain = h('input', { class: 'input', id: 'new-domain', required: true, maxlength: '253', placeholder: 'example.com', autocapitalize: 'off', spellcheck: 'false' });
  const zone = zoneSelect('new-zone', timeZones().includes(browserTimeZone()) ? browserTimeZone() : 'UTC');
  const error = formError();
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, icon('plus'), 'Add website');
  const form = h('form', { class: 'form', id: 'new-site-form' },
    field('Name', name, 'Shown in the dashboard; you can change it later.'),
    field('Domain', domain, 'The host your pages are served from, without www. Sub-domains count too.'),
    field('Time zone', zone, 'Days of the stats are counted in this zone.'),
    error,
    h('div', { class: 'form-actions' }, submit,
      first ? null : h('a', { class: 'btn', href: app.hrefFor({ view: 'dashboard' }) }, 'Cancel')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.hidden = true;
    submit.disabled = true;
    try {
      const site = await api.createWebsite({ name: name.value.trim(), domain: domain.value.trim(), timeZone: zone.value });
      toast(`${site.domain} added — now paste the snippet`, 'ok');
      await app.siteAdded(site);
    } catch (err) { showError(error, err); } finally { submit.disabled = false; }
  });
  const el = h('div', { class: 'new-site' },
    h('section', { class: 'panel new-site-card' },
      h('h1', {}, first ? 'Add your first website' : 'Add a website'),
      h('p', { class: 'muted' }, first
        ? 'Tell MetricPulse which site to count. You get a one-line snippet to paste next.'
        : 'Each website has its own snippet, stats, goals and share links.'),
      form));
  return { el, site: null, destroy() {} };
}
