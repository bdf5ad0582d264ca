// MetricPulse dashboard: start-up, the page frame and the routing between its views.

import { h, replace, icon, toast } from './dom.js';
import { api, useShareToken, setUnauthorizedHandler } from './api.js';
import { readUrl, writeUrl, urlFor } from './state.js';
import { createDashboard } from './dashboard.js';
import { createSettings, newWebsiteView } from './settings.js';
import { loginView, signupView, messagePage } from './auth.js';
import { LiveFeed } from './live.js';
import { fmtInt } from './format.js';

const root = document.getElementById('app');
const LAST_SITE = 'mp.lastSite';

const app = {
  mode: 'owner',
  config: null,
  user: null,
  sites: [],
  site: null,
  state: readUrl(),
  view: null,
  shell: null,
  live: null,

  hrefFor(patch) {
    return urlFor({ ...app.state, ...patch });
  },
  navigate(patch, { replace: replaceHistory = false } = {}) {
    app.state = { ...app.state, ...patch };
    writeUrl(app.state, !replaceHistory);
    route();
  },
  liveStatus() { return app.live?.status || 'idle'; },
  setRealtime(n) {
    const pill = app.shell?.pill;
    if (!pill) return;
    pill.el.hidden = false;
    pill.count.textContent = fmtInt(n);
    pill.el.dataset.value = String(n);
    pill.label.textContent = n === 1 ? ' current visitor' : ' current visitors';
  },
  async loggedIn(user, patch = {}) {
    app.user = user;
    await loadSites();
    startLive();
    app.navigate({ view: 'dashboard', ...patch }, { replace: true });
  },
  async siteAdded(site) {
    app.sites.push(site);
    app.navigate({ site: site.id, view: 'settings', filters: [] });
  },
  async siteDeleted(id) {
    app.sites = app.sites.filter((s) => s.id !== id);
    closeView();
    app.navigate({ site: app.sites[0]?.id || null, view: app.sites.length ? 'dashboard' : 'new', filters: [] });
  },
  sitesChanged(updated) {
    const i = app.sites.findIndex((s) => s.id === updated.id);
    if (i >= 0) Object.assign(app.sites[i], updated);
    renderSitePicker();
    document.title = `${updated.domain} · MetricPulse`;
  },
  funnelsChanged() {},
};

// ---- the frame ----------------------------------------------------------------------------

function closeView() {
  app.view?.destroy?.();
  app.view = null;
}

function renderSitePicker() {
  const sh = app.shell;
  if (!sh?.siteSelect) return;
  replace(sh.siteSelect, app.sites.map((s) => h('option', { value: s.id, title: s.name }, s.domain)));
  if (app.site) sh.siteSelect.value = app.site.id;
}

function buildShell() {
  const share = app.mode === 'share';
  const main = h('main', { id: 'main', class: 'main', tabindex: '-1' });
  const pillCount = h('span', { class: 'pill-count' }, '0');
  const pillLabel = h('span', { class: 'pill-label' }, ' current visitors');
  const pillShort = h('span', { class: 'pill-short' }, ' online');
  const pillEl = h('a', { class: 'live-pill', href: '#live', hidden: true, title: 'Sessions active in the last 5 minutes' },
    h('span', { class: 'pulse', 'aria-hidden': 'true' }), pillCount, pillLabel, pillShort);
  let siteSelect = null;
  let nav = null;
  let account = null;
  let siteBox;
  if (share) {
    siteBox = h('div', { class: 'site-switch share-site' },
      h('span', { class: 'site-name' }, app.site.name),
      h('span', { class: 'muted site-domain' }, app.site.domain),
      h('span', { class: 'badge badge-public' }, 'Public dashboard'));
  } else {
    siteSelect = h('select', { class: 'select site-select', id: 'site-select', 'aria-label': 'Website' });
    siteSelect.addEventListener('change', () => app.navigate({ site: siteSelect.value, filters: [], view: app.state.view === 'settings' ? 'settings' : 'dashboard' }));
    siteBox = h('div', { class: 'site-switch' }, siteSelect,
      h('a', { class: 'btn btn-icon', href: '/?view=new', id: 'add-website', 'aria-label': 'Add a website', title: 'Add a website' }, icon('plus')));
    nav = h('nav', { class: 'topnav', 'aria-label': 'Website' },
      h('a', { class: 'topnav-link', id: 'nav-dashboard', href: '/' }, icon('chart'), h('span', {}, 'Dashboard')),
      h('a', { class: 'topnav-link', id: 'nav-settings', href: '/?view=settings' }, icon('settings'), h('span', {}, 'Settings')));
    account = h('div', { class: 'account' },
      h('span', { class: 'avatar', title: `Logged in as ${app.user.email}`, role: 'img', 'aria-label': `Logged in as ${app.user.email}` }, (app.user.email || '?').charAt(0).toUpperCase()),
      h('button', { type: 'button', class: 'btn btn-small', id: 'logout', onclick: logout }, icon('logout'), h('span', {}, 'Log out')));
  }
  const header = h('header', { class: 'topbar' },
    h('div', { class: 'topbar-inner' },
      h('a', { class: 'brand', href: share ? location.pathname : '/', 'aria-label': 'MetricPulse home' }, h('span', { class: 'logo', 'aria-hidden': 'true' }), h('span', { class: 'brand-name' }, 'MetricPulse')),
      siteBox, pillEl, nav, account));
  const footer = h('footer', { class: 'footer muted' },
    share ? 'Read-only dashboard shared by its owner · ' : '',
    'MetricPulse', app.config?.version ? ` v${app.config.version}` : '', ' · cookieless analytics');
  replace(root, header, main, footer);
  app.shell = { main, siteSelect, nav, pill: { el: pillEl, count: pillCount, label: pillLabel } };
  renderSitePicker();
}

function syncShell() {
  const sh = app.shell;
  if (!sh) return;
  if (sh.siteSelect && app.site) sh.siteSelect.value = app.site.id;
  if (sh.nav) {
    const dash = sh.nav.querySelector('#nav-dashboard');
    const set = sh.nav.querySelector('#nav-settings');
    dash.href = app.hrefFor({ view: 'dashboard' });
    set.href = app.hrefFor({ view: 'settings' });
    const v = app.state.view === 'settings' ? set : app.state.view === 'dashboard' ? dash : null;
    for (const a of [dash, set]) if (a === v) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
}

function showView(view) {
  closeView();
  app.view = view;
  replace(app.shell.main, view.el);
}

// ---- routing ------------------------------------------------------------------------------

function route() {
  if (app.mode === 'share') {
    if (!app.shell) buildShell();
    if (!app.view) {
      showView(createDashboard(app));
      app.view.onLiveStatus('idle');
    }
    document.title = `${app.site.domain} · MetricPulse`;
    app.view.update(app.state);
    return;
  }
  if (!app.user) {
    closeView();
    app.shell = null;
    replace(root, app.state.view === 'signup' ? signupView(app) : loginView(app, { notice: app.sessionNotice }));
    document.title = app.state.view === 'signup' ? 'Create an account · MetricPulse' : 'Log in · MetricPulse';
    return;
  }
  if (!app.shell) buildShell();
  if (!app.sites.length || app.state.view === 'new') {
    app.site = null;
    if (app.state.view !== 'new') { app.state.view = 'new'; writeUrl(app.state, false); }
    syncShell();
    showView(newWebsiteView(app, { first: !app.sites.length }));
    document.title = 'Add a website · MetricPulse';
    return;
  }
  let stored = null;
  try { stored = localStorage.getItem(LAST_SITE); } catch { stored = null; }
  const site = app.sites.find((s) => s.id === app.state.site) || app.sites.find((s) => s.id === stored) || app.sites[0];
  if (app.state.site !== site.id || app.state.view === 'signup') {
    app.state = { ...app.state, site: site.id, view: app.state.view === 'signup' ? 'dashboard' : app.state.view };
    writeUrl(app.state, false);
  }
  try { localStorage.setItem(LAST_SITE, site.id); } catch { /* private mode */ }
  app.site = site;
  syncShell();
  document.title = `${site.domain} · MetricPulse`;
  if (app.state.view === 'settings') {
    if (!(app.view?.el.classList.contains('settings') && app.view.site?.id === site.id)) showView(createSettings(app));
    return;
  }
  if (!(app.view?.el.classList.contains('dashboard') && app.view.site?.id === site.id)) {
    showView(createDashboard(app));
    app.view.onLiveStatus(app.liveStatus());
    app.live?.watch(site.id);
  }
  app.view.update(app.state);
}

window.addEventListener('popstate', () => {
  app.state = readUrl();
  route();
});

// Links inside the app change the query string only: no page load.
document.addEventListener('click', (e) => {
  const a = e.target.closest?.('a[href]');
  if (!a || a.target || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || url.pathname !== location.pathname) return;
  if (url.search === location.search && url.hash) return; // an anchor on this page
  e.preventDefault();
  history.pushState(null, '', url.pathname + url.search + url.hash);
  app.state = readUrl();
  route();
  if (url.hash) requestAnimationFrame(() => document.getElementById(url.hash.slice(1))?.scrollIntoView());
  else window.scrollTo(0, 0);
});

// ---- session ------------------------------------------------------------------------------

async function loadSites() {
  app.sites = await api.websites();
}

function startLive() {
  if (app.live || app.mode !== 'owner') return;
  const wsUrl = app.config?.wsUrl || `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
  app.live = new LiveFeed(wsUrl, {
    onEvent: (ev) => app.view?.onLiveEvent?.(ev),
    onRealtime: (n) => app.view?.onRealtime?.(n),
    onStatus: (status, detail) => app.view?.onLiveStatus?.(status, detail),
  });
}

function stopLive() {
  app.live?.stop();
  app.live = null;
}

async function logout() {
  try { await api.logout(); } catch (err) { toast(err.message, 'error'); }
  stopLive();
  closeView();
  app.user = null;
  app.sites = [];
  app.site = null;
  app.shell = null;
  app.sessionNotice = null;
  app.state = { ...readUrl(), site: null, view: 'dashboard', filters: [] };
  history.pushState(null, '', '/');
  route();
}

setUnauthorizedHandler(() => {
  if (!app.user) return;
  stopLive();
  closeView();
  app.user = null;
  app.shell = null;
  app.sessionNotice = 'Your session has ended. Log in again to carry on where you were.';
  route();
});

function fatal(title, err, retry) {
  closeView();
  app.shell = null;
  replace(root, messagePage(title, err?.message || String(err),
    retry ? h('button', { type: 'button', class: 'btn btn-primary', onclick: retry }, icon('refresh'), 'Try again') : null));
}

window.addEventListener('error', (e) => { if (e.message) toast(`Something went wrong: ${e.message}`, 'error'); });
window.addEventListener('unhandledrejection', (e) => { const m = e.reason?.message || String(e.reason); if (e.reason?.name !== 'AbortError') toast(m, 'error'); });

async function boot() {
  app.config = await api.config().catch(() => null);
  const share = /^\/share\/([^/]+)\/?$/.exec(location.pathname);
  if (share) {
    const token = decodeURIComponent(share[1]);
    useShareToken(token);
    app.mode = 'share';
    let info;
    try {
      info = await api.share(token);
    } catch (err) {
      if (err.status === 404 || err.status === 401 || err.status === 403) {
        document.title = 'Link not valid · MetricPulse';
        replace(root, messagePage('This link is not valid (any more)',
          'The share link may have been revoked by the website’s owner, or it was copied incompletely. Ask the owner for a new link.',
          h('a', { class: 'btn', href: '/' }, 'Go to MetricPulse')));
        root.querySelector('.message-card').dataset.page = 'share-invalid';
      } else fatal('The dashboard could not be loaded', err, () => location.reload());
      return;
    }
    app.site = { id: info.websiteId, name: info.name, domain: info.domain, timeZone: info.timeZone };
    route();
    return;
  }
  try {
    app.user = await api.me();
  } catch (err) {
    if (err.status === 401) { app.user = null; route(); return; }
    fatal('The dashboard could not be loaded', err, () => { replace(root, h('div', { class: 'boot' }, h('p', { class: 'boot-text' }, 'Loading…'))); boot(); });
    return;
  }
  try {
    await loadSites();
  } catch (err) {
    if (err.status === 401) return; // the handler shows the log-in page
    fatal('Your websites could not be loaded', err, () => boot());
    return;
  }
  startLive();
  route();
}

boot();
