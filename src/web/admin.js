// The operator's page: no framework, no network beyond this service. The admin token lives in
// sessionStorage (this tab only); products, conflicts and failed merchant events are polled
// every second with it, and live stock streams (public, like product reads) move the figures as
// soon as stock changes.

const TOKEN_KEY = "flash-sale.admin-token";
const REFRESH_MS = 1000;
const HISTORY_MS = 5 * 60 * 1000;
/** The chart spans the history it has, from 20 s up to HISTORY_MS. */
const MIN_WINDOW_MS = 20 * 1000;
const MAX_STREAMS = 50;

const $ = (selector) => document.querySelector(selector);
const state = {
  products: new Map(),
  history: new Map(),
  streams: new Map(),
  timer: undefined,
  ticker: undefined,
};

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

function setStatus(text, kind) {
  const status = $("#status");
  status.textContent = text;
  status.className = `status ${kind ?? ""}`;
}

async function adminGet(path) {
  const response = await fetch(path, { headers: { authorization: `Bearer ${token()}` } });
  if (response.status === 401) throw Object.assign(new Error("unauthorized"), { status: 401 });
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}

/**
 * An operator's action through the admin API. A refusal is shown in `problemElement` as the
 * problem document's title and detail (and its field errors); returns the body, or undefined.
 */
async function adminSend(method, path, body, problemElement) {
  problemElement.hidden = true;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: { authorization: `Bearer ${token()}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  } catch (err) {
    showProblem(problemElement, { title: "Cannot reach the service", detail: err.message });
    return undefined;
  }
  const answer = await response.json().catch(() => ({}));
  if (response.ok) return answer;
  showProblem(problemElement, {
    title: answer.title ?? `HTTP ${response.status}`,
    detail: answer.detail ?? "",
    errors: answer.errors,
  });
  return undefined;
}

function showProblem(element, problem) {
  const fields = (problem.errors ?? []).map((e) => `${e.path}: ${e.message}`).join("; ");
  element.textContent = `${problem.title}: ${problem.detail}${fields ? ` (${fields})` : ""}`;
  element.hidden = false;
}

/** A datetime-local value (this browser's time) as ISO 8601 UTC; empty: null (open). */
function fromLocalInput(value) {
  return value ? new Date(value).toISOString() : null;
}

/** An ISO timestamp as a datetime-local value in this browser's time. */
function toLocalInput(iso) {
  if (!iso) return "";
  const at = new Date(iso);
  const local = new Date(at.getTime() - at.getTimezoneOffset() * 60_000);
  return local.toISOString().slice(0, 19);
}

/** A number input: empty means absent (or null where `emptyAs` says so). */
function numberInput(value, emptyAs) {
  return value === "" ? emptyAs : Number(value);
}

function formatSpan(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const two = (n) => String(n).padStart(2, "0");
  return h > 0 ? `${h}:${two(m)}:${two(s)}` : `${m}:${two(s)}`;
}

/** What the countdown shows by this browser's clock; the state beside it is the service's. */
function countdown(product) {
  const now = Date.now();
  const starts = product.sale_starts_at ? Date.parse(product.sale_starts_at) : null;
  const ends = product.sale_ends_at ? Date.parse(product.sale_ends_at) : null;
  if (starts !== null && now < starts) return `opens in ${formatSpan(starts - now)}`;
  if (ends !== null && now < ends) return `closes in ${formatSpan(ends - now)}`;
  if (ends !== null) return `closed at ${formatTime(product.sale_ends_at)}`;
  return "open, no end set";
}

/** Every page of a keyset-paged admin list; `filter` adds query parameters ("&delivery=failed"). */
async function allPages(path, field, filter = "") {
  const items = [];
  let after = 0;
  for (let page = 0; page < 20 && after !== null; page++) {
    const body = await adminGet(`${path}?limit=1000&after_id=${after}${filter}`);
    items.push(...body[field]);
    after = body.next_after_id;
  }
  return items;
}

function record(product) {
  const now = Date.now();
  const taken = product.stock_reserved + (product.units_pending ?? 0) + (product.units_paid ?? 0);
  const samples = state.history.get(product.id) ?? [];
  samples.push({ t: now, available: product.available, taken });
  while (samples.length > 0 && samples[0].t < now - HISTORY_MS) samples.shift();
  state.history.set(product.id, samples);
}

function formatTime(iso) {
  return iso ? new Date(iso).toLocaleTimeString() : "—";
}

function card(product) {
  let element = document.getElementById(`product-${product.id}`);
  if (!element) {
    element = document.createElement("article");
    element.id = `product-${product.id}`;
    element.className = "card product";
    element.innerHTML = `
      <h3><span class="name"></span><small class="id"></small></h3>
      <div class="figures">
        <div class="figure available"><b data-f="available"></b><span>available</span></div>
        <div class="figure"><b data-f="stock_available"></b><span>stock</span></div>
        <div class="figure"><b data-f="stock_reserved"></b><span>reserved (held)</span></div>
        <div class="figure"><b data-f="units_paid"></b><span>units paid</span></div>
        <div class="figure"><b data-f="units_pending"></b><span>units pending payment</span></div>
        <div class="figure"><b data-f="sold_out_at"></b><span>sold out at</span></div>
      </div>
      <div class="sale"><span class="state" data-f="sale_state"></span>
        <span class="countdown"></span></div>
      <form class="actions restock" autocomplete="off">
        <label>Restock <input name="qty" type="number" min="1" required placeholder="units"></label>
        <button type="submit">Add units</button>
      </form>
      <form class="actions edit" autocomplete="off">
        <label>Opens <input name="sale_starts_at" type="datetime-local" step="1"></label>
        <label>Closes <input name="sale_ends_at" type="datetime-local" step="1"></label>
        <label>Max per buyer <input name="max_per_buyer" type="number" min="1" placeholder="no limit"></label>
        <button type="submit">Save window and limit</button>
      </form>
      <form class="actions room" autocomplete="off">
        <label>Admit per second <input name="admit_per_second" type="number" min="0" max="100000" required placeholder="0 pauses"></label>
        <label>Admission seconds <input name="admission_seconds" type="number" min="10" max="3600" placeholder="300"></label>
        <button type="submit">Save waiting room</button>
        <button type="button" class="remove-room">Remove waiting room</button>
      </form>
      <p class="line" data-f="waiting_room"></p>
      <p class="problem" role="alert" hidden></p>
      <canvas width="760" height="220"></canvas>
      <div class="legend"><span><i class="available"></i>available units</span>
        <span><i class="rate"></i>holds per second (units taken)</span>
        <span class="window"></span></div>`;
    $("#products").append(element);
    wireActions(element, product.id);
    addStoreForms(element, product.id);
    fillEditForm(element, product);
  }
  element.querySelector(".name").textContent = product.name;
  element.querySelector(".id").textContent = `#${product.id}${
    product.max_per_buyer ? ` · max ${product.max_per_buyer} per buyer` : ""
  }`;
  for (const field of [
    "available",
    "stock_available",
    "stock_reserved",
    "units_paid",
    "units_pending",
  ]) {
    element.querySelector(`[data-f="${field}"]`).textContent = (
      product[field] ?? 0
    ).toLocaleString();
  }
  element.querySelector('[data-f="waiting_room"]').textContent = lineText(product.waiting_room);
  const saleState = element.querySelector('[data-f="sale_state"]');
  saleState.textContent = product.sale_state;
  saleState.className = `state ${product.sale_state}`;
  element.querySelector(".countdown").textContent = countdown(product);
  const soldOut = element.querySelector('[data-f="sold_out_at"]');
  soldOut.textContent = formatTime(product.sold_out_at);
  soldOut.className = product.sold_out_at ? "soldout" : "";
  const samples = state.history.get(product.id) ?? [];
  const seconds = samples.length ? Math.round((Date.now() - samples[0].t) / 1000) : 0;
  element.querySelector(".window").textContent =
    seconds >= HISTORY_MS / 1000 ? "last 5 minutes" : `last ${Math.max(seconds, 20)} s`;
  draw(element.querySelector("canvas"), samples);
}

/** A waiting room's line as the operator watches it move. */
function lineText(room) {
  if (!room) return "No waiting room: holds are open to every buyer.";
  const waiting = Math.max(0, room.joined - room.serving);
  return `Waiting room: ${room.joined.toLocaleString()} joined · serving ${room.serving.toLocaleString()} · about ${waiting.toLocaleString()} waiting · ${room.admit_per_second.toLocaleString()} admitted per second${room.admit_per_second === 0 ? " (paused)" : ""} · ${room.admission_seconds} s each`;
}

function fillEditForm(element, product) {
  const room = element.querySelector("form.room");
  room.admit_per_second.value = product.waiting_room?.admit_per_second ?? "";
  room.admission_seconds.value = product.waiting_room?.admission_seconds ?? "";
  const form = element.querySelector("form.edit");
  form.sale_starts_at.value = toLocalInput(product.sale_starts_at);
  form.sale_ends_at.value = toLocalInput(product.sale_ends_at);
  form.max_per_buyer.value = product.max_per_buyer ?? "";
}

/** Applies a product the service answered with, at once, before the next poll. */
function applyProduct(answer) {
  const known = state.products.get(answer.id) ?? {};
  const merged = Object.assign(known, answer);
  state.products.set(answer.id, merged);
  card(merged);
  return merged;
}

function wireActions(element, id) {
  const problem = element.querySelector(".problem");
  element.querySelector("form.restock").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const answer = await adminSend(
      "POST",
      `/api/admin/products/${id}/restock`,
      { qty: numberInput(form.qty.value) },
      problem,
    );
    if (answer) {
      form.reset();
      applyProduct(answer);
    }
  });
  element.querySelector("form.edit").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const answer = await adminSend(
      "PATCH",
      `/api/admin/products/${id}`,
      {
        sale_starts_at: fromLocalInput(form.sale_starts_at.value),
        sale_ends_at: fromLocalInput(form.sale_ends_at.value),
        max_per_buyer: numberInput(form.max_per_buyer.value, null),
      },
      problem,
    );
    if (answer) fillEditForm(element, applyProduct(answer));
  });
  const room = element.querySelector("form.room");
  const sendRoom = async (waitingRoom) => {
    const answer = await adminSend(
      "PATCH",
      `/api/admin/products/${id}`,
      { waiting_room: waitingRoom },
      problem,
    );
    if (answer) fillEditForm(element, applyProduct(answer));
  };
  room.addEventListener("submit", async (event) => {
    event.preventDefault();
    const seconds = numberInput(room.admission_seconds.value, undefined);
    await sendRoom({
      admit_per_second: numberInput(room.admit_per_second.value),
      ...(seconds === undefined ? {} : { admission_seconds: seconds }),
    });
  });
  room.querySelector(".remove-room").addEventListener("click", () => sendRoom(null));
}

async function createFromForm(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const answer = await adminSend(
    "POST",
    "/api/admin/products",
    {
      // form.name is the form's own name attribute, not the field.
      name: form.elements.namedItem("name").value,
      price_cents: numberInput(form.price_cents.value),
      stock: numberInput(form.stock.value),
      max_per_buyer: numberInput(form.max_per_buyer.value, null),
      sale_starts_at: fromLocalInput(form.sale_starts_at.value),
      sale_ends_at: fromLocalInput(form.sale_ends_at.value),
    },
    form.querySelector(".problem"),
  );
  if (!answer) return;
  form.reset();
  state.products.set(answer.id, answer);
  record(answer);
  card(answer);
  watch(answer);
}

/** Countdowns move every quarter second, between the polls. */
function tickCountdowns() {
  for (const product of state.products.values()) {
    const element = document.getElementById(`product-${product.id}`);
    if (element) element.querySelector(".countdown").textContent = countdown(product);
  }
}

function draw(canvas, samples) {
  const context = canvas.getContext("2d");
  const { width, height } = canvas;
  context.clearRect(0, 0, width, height);
  if (samples.length === 0) return;
  const end = Date.now();
  const span = Math.min(HISTORY_MS, Math.max(MIN_WINDOW_MS, end - samples[0].t));
  const x = (t) => ((t - (end - span)) / span) * width;
  const rates = samples.slice(1).map((sample, i) => {
    const previous = samples[i];
    const seconds = Math.max((sample.t - previous.t) / 1000, 0.001);
    return { t: sample.t, rate: Math.max(0, sample.taken - previous.taken) / seconds };
  });
  const maxRate = Math.max(1, ...rates.map((r) => r.rate));
  context.fillStyle = "rgba(36, 87, 214, 0.55)";
  for (const { t, rate } of rates) {
    const h = (rate / maxRate) * (height - 20);
    context.fillRect(x(t) - 2, height - h, 3, h);
  }
  const maxAvailable = Math.max(1, ...samples.map((s) => s.available));
  context.strokeStyle = "#1a7f4b";
  context.lineWidth = 3;
  context.beginPath();
  samples.forEach((s, i) => {
    const y = height - 4 - (s.available / maxAvailable) * (height - 24);
    if (i === 0) context.moveTo(x(s.t), y);
    else context.lineTo(x(s.t), y);
  });
  context.stroke();
  context.fillStyle = "#677089";
  context.font = "20px system-ui, sans-serif";
  context.fillText(`peak ${Math.round(maxRate).toLocaleString()}/s`, 8, 20);
}

/** Live stock: a stock event moves the figures before the next poll. */
function watch(product) {
  if (state.streams.has(product.id) || state.streams.size >= MAX_STREAMS) return;
  const source = new EventSource(`/api/products/${product.id}/events`);
  source.addEventListener("stock", (event) => {
    const live = JSON.parse(event.data);
    const known = state.products.get(live.id);
    if (!known) return;
    Object.assign(known, live);
    card(known);
  });
  state.streams.set(product.id, source);
}

async function refresh() {
  try {
    const [products, conflicts, failedEvents] = await Promise.all([
      allPages("/api/admin/products", "products"),
      allPages("/api/admin/payment-conflicts", "conflicts"),
      allPages("/api/admin/events", "events", "&delivery=failed"),
    ]);
    for (const product of products) {
      state.products.set(product.id, product);
      record(product);
      card(product);
      watch(product);
    }
    renderConflicts(conflicts);
    renderFailedEvents(failedEvents);
    setStatus(
      `live · ${products.length} products · updated ${new Date().toLocaleTimeString()}`,
      "live",
    );
  } catch (err) {
    if (err.status === 401) {
      signOut("That token was refused.");
      return;
    }
    setStatus(`cannot reach the service (${err.message}); retrying`, "down");
  }
}

function signIn() {
  $("#sign-in").hidden = true;
  $("#sale").hidden = false;
  $("#sign-out").hidden = false;
  void refresh();
  void findOrders();
  void loadAudit();
  state.timer = setInterval(refresh, REFRESH_MS);
  state.ticker = setInterval(tickCountdowns, 250);
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  clearInterval(state.timer);
  clearInterval(state.ticker);
  for (const source of state.streams.values()) source.close();
  state.streams.clear();
  $("#sign-in").hidden = false;
  $("#sale").hidden = true;
  $("#sign-out").hidden = true;
  setStatus(message ?? "not signed in");
}

// ---- Conflict resolution and failed merchant events (issue 26) ----

/**
 * Sends an admin action (a refusal shown as the problem's title and detail), then reads the
 * lists again either way, so the page shows what the service now holds.
 */
async function adminAction(method, path, body) {
  await adminSend(method, path, body ?? {}, $("#action-refusal"));
  await refresh();
  await loadAudit();
}

function actionButton(label, className, onClick) {
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = label;
  if (className) button.className = className;
  button.addEventListener("click", onClick);
  return button;
}

/** Rows of text cells, then a cell of buttons; `empty` when there is no row. */
function renderRows(selector, items, empty, cellsOf, buttonsOf) {
  $(selector).replaceChildren(
    ...(items.length === 0
      ? [
          Object.assign(document.createElement("tr"), {
            innerHTML: `<td class="empty" colspan="7">${empty}</td>`,
          }),
        ]
      : items.map((item) => {
          const row = document.createElement("tr");
          for (const value of cellsOf(item)) {
            const cell = document.createElement("td");
            cell.textContent = String(value);
            row.append(cell);
          }
          const actions = document.createElement("td");
          actions.append(...buttonsOf(item));
          row.append(actions);
          return row;
        })),
  );
}

function setBadge(selector, count) {
  const badge = $(selector);
  badge.textContent = String(count);
  badge.className = count ? "badge" : "badge zero";
}

const resolve = (conflict, resolution) =>
  adminAction("POST", `/api/admin/payment-conflicts/${conflict.id}/resolve`, { resolution });

function renderConflicts(conflicts) {
  setBadge("#conflict-count", conflicts.length);
  renderRows(
    "#conflicts tbody",
    conflicts,
    "None: no refund to make.",
    (c) => [
      c.id,
      c.idempotency_key,
      c.order_id,
      c.status,
      c.order_status ?? "—",
      formatTime(c.received_at),
    ],
    (c) => [
      actionButton("Refunded", "", () => resolve(c, "refunded")),
      actionButton("Ignore", "quiet", () => resolve(c, "ignored")),
    ],
  );
}

function renderFailedEvents(events) {
  setBadge("#failed-event-count", events.length);
  renderRows(
    "#failed-events tbody",
    events,
    "None: every event was delivered or is still being tried.",
    (e) => [
      e.id,
      e.type,
      e.order_id,
      e.delivery.attempts,
      e.delivery.last_error ?? "—",
      formatTime(e.created_at),
    ],
    (e) => [
      actionButton("Redeliver", "", () =>
        adminAction("POST", `/api/admin/events/${e.id}/redeliver`),
      ),
    ],
  );
}

// ---- The store: price, stock corrections, orders, the CSV export, the audit log (issue 35) ----

/** A product's price and stock-correction forms, below its other actions. */
function addStoreForms(element, id) {
  const forms = document.createElement("div");
  forms.className = "store-forms";
  forms.innerHTML = `
    <form class="actions price" autocomplete="off">
      <label>Price (cents) <input name="price_cents" type="number" min="1" required placeholder="12900"></label>
      <button type="submit">Set price</button>
    </form>
    <form class="actions correct" autocomplete="off">
      <label>Correct stock by <input name="delta" type="number" required placeholder="-5 or 5"></label>
      <label>Note <input name="note" maxlength="1000" placeholder="why"></label>
      <button type="submit">Correct stock</button>
    </form>`;
  element.querySelector(".problem").before(forms);
  const problem = element.querySelector(".problem");
  const send = async (form, method, path, body) => {
    const answer = await adminSend(method, path, body, problem);
    if (answer) {
      form.reset();
      applyProduct(answer);
      await loadAudit();
    }
  };
  forms.querySelector("form.price").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    void send(form, "PATCH", `/api/admin/products/${id}`, {
      price_cents: numberInput(form.price_cents.value),
    });
  });
  forms.querySelector("form.correct").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    void send(form, "POST", `/api/admin/products/${id}/stock-corrections`, {
      delta: numberInput(form.delta.value),
      note: form.note.value || null,
    });
  });
}

/** The filters as query parameters (an order id is found as the one order after id - 1). */
function orderQuery() {
  const form = $("#order-filter");
  const params = new URLSearchParams();
  for (const name of ["status", "product_id", "buyer_id"]) {
    if (form[name].value !== "") params.set(name, form[name].value);
  }
  return params;
}

const orderState = { after: 0, orders: [] };

async function findOrders(more = false) {
  const form = $("#order-filter");
  const problem = form.querySelector(".problem");
  problem.hidden = true;
  const params = orderQuery();
  const wanted = form.order_id.value === "" ? undefined : Number(form.order_id.value);
  if (!more) orderState.orders = [];
  params.set("after_id", String(wanted !== undefined ? wanted - 1 : more ? orderState.after : 0));
  params.set("limit", wanted !== undefined ? "1" : "100");
  const response = await fetch(`/api/admin/orders?${params}`, {
    headers: { authorization: `Bearer ${token()}` },
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    showProblem(problem, {
      title: answer.title ?? `HTTP ${response.status}`,
      detail: answer.detail ?? "",
      errors: answer.errors,
    });
    return;
  }
  const found =
    wanted !== undefined ? answer.orders.filter((o) => o.order_id === wanted) : answer.orders;
  orderState.orders.push(...found);
  orderState.after = answer.next_after_id;
  $("#orders-more").hidden = wanted !== undefined || answer.next_after_id === null;
  renderOrders();
}

function renderOrders() {
  renderRows(
    "#orders tbody",
    orderState.orders,
    "No order matches.",
    (o) => [
      o.order_id,
      o.product_id,
      o.buyer_id ?? "anonymous",
      o.qty,
      (o.total_cents / 100).toFixed(2),
      o.status,
      formatTime(o.updated_at),
    ],
    (o) => [
      actionButton("Open", "quiet", () => openOrder(o)),
      ...(o.status === "pending"
        ? [actionButton("Cancel", "", () => cancelOrder(o.order_id, null))]
        : []),
    ],
  );
}

function openOrder(order) {
  const detail = $("#order-detail");
  detail.hidden = false;
  detail.dataset.orderId = String(order.order_id);
  detail.querySelector(".problem").hidden = true;
  detail.querySelector('[data-o="order_id"]').textContent = `#${order.order_id}`;
  const status = detail.querySelector('[data-o="status"]');
  status.textContent = order.status;
  status.className = `state ${order.status}`;
  detail
    .querySelector("dl")
    .replaceChildren(
      ...Object.entries(order).flatMap(([field, value]) => [
        Object.assign(document.createElement("dt"), { textContent: field }),
        Object.assign(document.createElement("dd"), { textContent: String(value ?? "—") }),
      ]),
    );
  $("#order-cancel").hidden = order.status !== "pending";
}

/** Cancels through the admin API; a refusal shows its problem in the order's panel or list. */
async function cancelOrder(orderId, note) {
  const detail = $("#order-detail");
  const open = !detail.hidden && detail.dataset.orderId === String(orderId);
  const problem = open ? detail.querySelector(".problem") : $("#order-filter .problem");
  const answer = await adminSend("POST", `/api/admin/orders/${orderId}/cancel`, { note }, problem);
  const index = orderState.orders.findIndex((o) => o.order_id === orderId);
  if (answer && index >= 0) {
    orderState.orders[index] = {
      ...orderState.orders[index],
      ...answer,
      updated_at: new Date().toISOString(),
    };
  }
  if (answer && open) openOrder(orderState.orders[index] ?? answer);
  renderOrders();
  await refresh();
  await loadAudit();
}

/** The export needs the bearer token, so it is fetched and handed to the browser as a file. */
async function downloadCsv() {
  const problem = $("#order-filter .problem");
  problem.hidden = true;
  const response = await fetch(`/api/admin/orders/export?${orderQuery()}`, {
    headers: { authorization: `Bearer ${token()}` },
  });
  if (!response.ok) {
    const answer = await response.json().catch(() => ({}));
    showProblem(problem, {
      title: answer.title ?? `HTTP ${response.status}`,
      detail: answer.detail ?? "",
    });
    return;
  }
  const url = URL.createObjectURL(await response.blob());
  const link = Object.assign(document.createElement("a"), { href: url, download: "orders.csv" });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

const AUDIT_SHOWN = 200;
const auditState = { after: 0, entries: [] };

/** Reads the entries written since the last read (the log only grows), newest first. */
async function loadAudit() {
  try {
    for (let page = 0; page < 20; page++) {
      const body = await adminGet(`/api/admin/audit?limit=1000&after_id=${auditState.after}`);
      auditState.entries.unshift(...body.entries.reverse());
      const last = body.entries[0];
      if (last) auditState.after = last.id;
      if (body.next_after_id === null) break;
    }
  } catch (err) {
    // A refused token is refresh()'s to handle: it signs out.
    if (err.status !== 401) setStatus(`cannot read the audit log (${err.message})`, "down");
    return;
  }
  auditState.entries.length = Math.min(auditState.entries.length, AUDIT_SHOWN);
  const changes = (entry) =>
    Object.entries(entry.changes)
      .map(([field, [before, after]]) => `${field}: ${before ?? "—"} → ${after ?? "—"}`)
      .join("; ");
  renderRows(
    "#audit tbody",
    auditState.entries,
    "No admin change yet.",
    (e) => [
      e.id,
      formatTime(e.at),
      e.action,
      e.target,
      changes(e),
      e.note ?? "",
      `${e.request_id} · ${e.client_ip ?? "?"}`,
    ],
    () => [],
  );
}

$("#order-filter").addEventListener("submit", (event) => {
  event.preventDefault();
  void findOrders();
});
$("#orders-more").addEventListener("click", () => findOrders(true));
$("#orders-csv").addEventListener("click", downloadCsv);
$("#order-cancel").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  void cancelOrder(Number($("#order-detail").dataset.orderId), form.note.value || null).then(() =>
    form.reset(),
  );
});

// ---- Start ----

$("#sign-in").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("#token").value);
  $("#token").value = "";
  signIn();
});
$("#sign-out").addEventListener("click", () => signOut());
$("#create").addEventListener("submit", createFromForm);
if (token()) signIn();
