// Log-in and sign-up pages.

import { h } from './dom.js';
import { api } from './api.js';

function authFrame(title, subtitle, form, foot, version) {
  return h('main', { class: 'auth', id: 'main' },
    h('div', { class: 'auth-card' },
      h('div', { class: 'brand brand-large' }, h('span', { class: 'logo', 'aria-hidden': 'true' }), 'MetricPulse'),
      h('h1', {}, title),
      subtitle ? h('p', { class: 'muted' }, subtitle) : null,
      form,
      foot),
    h('p', { class: 'auth-foot muted' }, 'Privacy-friendly analytics on your own server', version ? ` · v${version}` : ''));
}

function field(label, input) {
  return h('label', { class: 'field' }, h('span', { class: 'field-label' }, label), input);
}

function messageFor(err) {
  if (err.code === 'rate_limited' && err.retryAfter) {
    const min = Math.ceil(err.retryAfter / 60);
    return `${err.message} (try again in ${err.retryAfter < 120 ? `${err.retryAfter} s` : `${min} min`}).`;
  }
  return err.message;
}

export function loginView(app, { notice } = {}) {
  const email = h('input', { class: 'input', type: 'email', name: 'email', id: 'login-email', autocomplete: 'username', required: true, autofocus: true });
  const password = h('input', { class: 'input', type: 'password', name: 'password', id: 'login-password', autocomplete: 'current-password', required: true });
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, 'Log in');
  const form = h('form', { class: 'form', id: 'login-form', novalidate: false },
    notice ? h('p', { class: 'form-notice' }, notice) : null,
    field('Email', email), field('Password', password), error, submit);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.hidden = true;
    submit.disabled = true;
    submit.textContent = 'Logging in…';
    try {
      const user = await api.login(email.value.trim(), password.value);
      await app.loggedIn(user);
    } catch (err) {
      error.textContent = messageFor(err);
      error.hidden = false;
      password.select();
    } finally {
      submit.disabled = false;
      submit.textContent = 'Log in';
    }
  });
  const foot = h('p', { class: 'auth-switch' }, 'No account yet? ', h('a', { href: '/?view=signup', onclick: (e) => { e.preventDefault(); app.navigate({ view: 'signup' }); } }, 'Create one'));
  return authFrame('Log in', 'Welcome back. Log in to see your websites’ numbers.', form, foot, app.config?.version);
}

export function signupView(app) {
  const email = h('input', { class: 'input', type: 'email', name: 'email', id: 'signup-email', autocomplete: 'username', required: true, autofocus: true, maxlength: '254' });
  const password = h('input', { class: 'input', type: 'password', name: 'password', id: 'signup-password', autocomplete: 'new-password', required: true, minlength: '8', maxlength: '72' });
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, 'Create account');
  const form = h('form', { class: 'form', id: 'signup-form' },
    field('Email', email),
    field('Password', password),
    h('p', { class: 'field-hint muted' }, '8 to 72 characters.'),
    error, submit);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.hidden = true;
    submit.disabled = true;
    try {
      await api.signup(email.value.trim(), password.value);
      const user = await api.login(email.value.trim(), password.value);
      await app.loggedIn(user, { view: 'dashboard' });
    } catch (err) {
      error.textContent = err.code === 'signup_disabled' ? 'Sign-up is closed on this server. Ask its administrator for an account.' : messageFor(err);
      error.hidden = false;
    } finally {
      submit.disabled = false;
    }
  });
  const foot = h('p', { class: 'auth-switch' }, 'Have an account? ', h('a', { href: '/', onclick: (e) => { e.preventDefault(); app.navigate({ view: 'dashboard' }); } }, 'Log in'));
  return authFrame('Create an account', 'Count visitors without cookies, on a server you run.', form, foot, app.config?.version);
}

export function messagePage(title, text, action) {
  return h('main', { class: 'auth', id: 'main' },
    h('div', { class: 'auth-card message-card', dataset: { page: 'message' } },
      h('div', { class: 'brand brand-large' }, h('span', { class: 'logo', 'aria-hidden': 'true' }), 'MetricPulse'),
      h('h1', {}, title),
      h('p', { class: 'muted' }, text),
      action || null));
}
