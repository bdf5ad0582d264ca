// The live feed: one WebSocket (authenticated by the session cookie), re-opened with
// backoff whenever it closes, re-subscribing to the website being watched.

export class LiveFeed {
  constructor(url, { onEvent, onRealtime, onStatus } = {}) {
    this.url = url;
    this.onEvent = onEvent || (() => {});
    this.onRealtime = onRealtime || (() => {});
    this.onStatus = onStatus || (() => {});
    this.websiteId = null;
    this.ws = null;
    this.attempt = 0;
    this.timer = 0;
    this.stopped = false;
    this.status = 'idle';
  }

  setStatus(status, detail) {
    this.status = status;
    this.onStatus(status, detail);
  }

  watch(websiteId) {
    if (this.websiteId && this.websiteId !== websiteId && this.ws?.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify({ type: 'unsubscribe', websiteId: this.websiteId }));
    }
    this.websiteId = websiteId;
    this.stopped = false;
    if (!this.ws || this.ws.readyState > WebSocket.OPEN) this.connect();
    else if (this.ws.readyState === WebSocket.OPEN) this.subscribe();
  }

  subscribe() {
    if (this.websiteId && this.ws?.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify({ type: 'subscribe', websiteId: this.websiteId }));
    }
  }

  connect() {
    clearTimeout(this.timer);
    if (this.stopped || !this.url) return;
    this.setStatus('connecting');
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (e) {
      this.setStatus('error', String(e?.message || e));
      this.retry();
      return;
    }
    this.ws = ws;
    ws.addEventListener('open', () => {
      this.attempt = 0;
      this.subscribe();
    });
    ws.addEventListener('message', (e) => {
      let msg;
      try { msg = JSON.parse(e.data); } catch { return; }
      if (!msg || typeof msg !== 'object') return;
      if (msg.websiteId && msg.websiteId !== this.websiteId) return;
      if (msg.type === 'subscribed') this.setStatus('live');
      else if (msg.type === 'event') this.onEvent(msg);
      else if (msg.type === 'realtime') this.onRealtime(msg.activeSessions);
      else if (msg.type === 'error') {
        this.setStatus('error', msg.message || msg.code);
        if (msg.code === 'unavailable') setTimeout(() => this.subscribe(), 3000);
      }
    });
    ws.addEventListener('close', () => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (!this.stopped) this.retry();
    });
    ws.addEventListener('error', () => { /* close follows */ });
  }

  retry() {
    const delay = Math.min(30000, 1000 * 2 ** this.attempt) * (0.75 + Math.random() * 0.5);
    this.attempt = Math.min(this.attempt + 1, 6);
    this.setStatus('reconnecting', Math.round(delay / 1000));
    this.timer = setTimeout(() => this.connect(), delay);
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    const ws = this.ws;
    this.ws = null;
    if (ws) try { ws.close(1000, 'bye'); } catch { /* already closed */ }
    this.setStatus('idle');
  }
}
