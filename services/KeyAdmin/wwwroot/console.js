// The Keys operator console: a client of KeyAdmin's public REST API, nothing more. It keeps the operator's token (an
// `op_…` token or the break-glass admin token) in sessionStorage (this tab only), and a new secret key's value or a new
// operator's token in one variable, only until the operator moves on.

const tokenStorageKey = "keys.operatorToken";
const requestTimeoutSeconds = 10;

const $ = (id) => document.getElementById(id);

const state = {
  // Who is signed in: GET /v1/operators/current ({ id, name, role, projectIds, … }).
  me: null,
  projects: [],
  project: null,
  // { keyId, name, value, route }: a secret key just created or rolled, on the page at `route`. Never stored, never in
  // the URL; gone on any navigation.
  revealed: null,
  // { operatorId, name, token, route }: a new operator's token, on the page at `route`; kept like `revealed`.
  issued: null,
  // What the open dialog acts on: { type, ...here() }, { key, ...here() }.
  adding: null,
  deleting: null,
  rolling: null,
  revoking: null,
  editing: null,
  opener: null,
  // The keys page's search, status filter and each section's page (a stack of page tokens, "" first), for the page at
  // `route`: a new project or environment starts over.
  listing: null,
};

class ApiError extends Error {
  constructor(status, reason, message) {
    super(message);
    this.status = status;
    this.reason = reason;
  }
}

// ---------- REST ----------

async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${sessionStorage.getItem(tokenStorageKey) ?? ""}` };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
  }

  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      // A stopped KeyAdmin behind Aspire's proxy accepts the connection and never answers: do not wait forever.
      signal: AbortSignal.timeout(requestTimeoutSeconds * 1000),
    });
  } catch (e) {
    const timedOut = e?.name === "TimeoutError";
    const maybeDone = method === "GET" ? "" : " The change may or may not have been made: check before you try again.";
    throw new ApiError(0, timedOut ? "TIMEOUT" : "UNREACHABLE", timedOut
      ? `KeyAdmin did not answer within ${requestTimeoutSeconds} seconds. Check that it is running.${maybeDone}`
      : `KeyAdmin could not be reached. Check that it is running, then try again.`);
  }

  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    // A body that is not JSON (a proxy's error page, say) still gets a sentence below.
  }

  if (!response.ok) {
    const details = Array.isArray(json?.details) ? json.details : [];
    const reason = details.find((d) => typeof d?.reason === "string")?.reason ?? "";
    const message = typeof json?.message === "string" && json.message
      ? json.message
      : `KeyAdmin answered ${response.status}${response.statusText ? ` ${response.statusText}` : ""}.`;
    throw new ApiError(response.status, reason, message);
  }

  return json ?? {};
}

const keysPath = (projectId, environment) =>
  `/v1/projects/${encodeURIComponent(projectId)}/environments/${encodeURIComponent(environment)}/keys`;

// ---------- what the signed-in operator may do (KeyAdmin decides; the console only leaves out what it would refuse) ----------

const roleRank = { viewer: 1, editor: 2, owner: 3 };
const rank = () => roleRank[state.me?.role] ?? 0;
const limitedToProjects = () => (state.me?.projectIds ?? []).length > 0;
const may = {
  edit: () => rank() >= roleRank.editor,
  createProject: () => rank() >= roleRank.editor && !limitedToProjects(),
  manageOperators: () => rank() >= roleRank.owner,
};
const isBreakGlass = (operator) => operator?.id === "admin-token";

// ---------- small DOM helpers (text only: nothing from the API is ever parsed as HTML) ----------

function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on")) {
      element.addEventListener(name.slice(2), value);
    } else if (name === "class") {
      element.className = value;
    } else {
      element.setAttribute(name, value === true ? "" : value);
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

const hidden = (text) => h("span", { class: "visually-hidden" }, text);

let statusTimer;
function announce(message) {
  const status = $("status");
  status.textContent = message;
  status.classList.add("visible");
  clearTimeout(statusTimer);
  statusTimer = setTimeout(() => status.classList.remove("visible"), 4000);
}

function showError(element, error) {
  element.replaceChildren(
    document.createTextNode(error.message),
    error.reason ? h("span", { class: "error-code" }, error.reason) : "",
  );
  element.hidden = false;
}

function clearError(element) {
  element.hidden = true;
  element.replaceChildren();
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const relativeFormat = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

function relative(date) {
  const seconds = (date.getTime() - Date.now()) / 1000;
  const units = [["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400], ["hour", 3600], ["minute", 60]];
  for (const [unit, size] of units) {
    // A little under a unit counts as one: an hour's grace seen a second later is "in 1 hour", not "in 60 minutes".
    if (Math.abs(seconds) >= size * 0.9) return relativeFormat.format(Math.round(seconds / size), unit);
  }
  return seconds < 0 ? "just now" : "in a moment";
}

function time(iso, style = "date") {
  if (!iso) return null;
  const date = new Date(iso);
  const text = style === "relative" ? relative(date) : dateFormat.format(date);
  return h("time", { datetime: iso, title: dateTimeFormat.format(date) }, text);
}

async function copy(text, what, button, shownIn) {
  try {
    await navigator.clipboard.writeText(text);
    announce(`${what} copied to the clipboard.`);
    if (button) {
      button.classList.add("copied");
      setTimeout(() => button.classList.remove("copied"), 1500);
    }
  } catch {
    // No clipboard (a page not served from localhost or HTTPS): leave the text selected for Ctrl+C.
    const target = shownIn ?? button?.querySelector("code");
    if (target) window.getSelection()?.selectAllChildren(target);
    announce("The browser would not copy: the text is selected, press Ctrl+C.");
  }
}

// ---------- routing: #/projects/{id}/environments/{env}/keys, #/projects/{id}/settings and #/operators ----------

function parseRoute() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  if (parts[0] === "operators" && parts.length === 1) return { view: "operators" };
  if (parts[0] !== "projects" || !parts[1]) return { view: "home" };
  if (parts[2] === "settings") return { view: "settings", projectId: parts[1] };
  return { view: "keys", projectId: parts[1], environment: parts[2] === "environments" ? parts[3] : undefined };
}

// The project and environment on screen, pinned when a dialog opens so that it acts on them whatever happens next.
function here() {
  const { projectId, environment } = parseRoute();
  return { projectId, environment, route: location.hash };
}

const keysRoute = (projectId, environment) =>
  `#/projects/${encodeURIComponent(projectId)}/environments/${encodeURIComponent(environment)}/keys`;
const settingsRoute = (projectId) => `#/projects/${encodeURIComponent(projectId)}/settings`;

function navigate(hash, { replace = false } = {}) {
  if (location.hash === hash) {
    render();
  } else if (replace) {
    history.replaceState(null, "", hash);
    render();
  } else {
    location.hash = hash;
  }
}

// ---------- sign in / out ----------

// Whatever the signed-in page showed (a revealed secret above all) goes, not just out of sight.
function forgetSession() {
  sessionStorage.removeItem(tokenStorageKey);
  state.me = null;
  state.projects = [];
  state.project = null;
  state.revealed = null;
  state.issued = null;
  state.adding = null;
  state.deleting = null;
  state.rolling = null;
  state.revoking = null;
  state.editing = null;
  state.listing = null;
  for (const dialog of document.querySelectorAll("dialog[open]")) dialog.close();
  $("main").replaceChildren();
  $("project-select").replaceChildren();
  $("environment-select").replaceChildren();
  $("operator-projects").replaceChildren();
  showWho();
}

// `why`: the error that signed the operator out ({ message, reason? }), shown on the form.
function showSignIn(why) {
  $("app-view").hidden = true;
  $("sign-in-view").hidden = false;
  const error = $("sign-in-error");
  if (why) {
    showError(error, why);
  } else {
    clearError(error);
  }
  $("operator-token").focus();
}

// A revoked or expired token gets the API's own sentence (whose token, since when); any other 401 the console's.
const tokenRefusal = (error) => error.reason === "TOKEN_REVOKED" || error.reason === "TOKEN_EXPIRED";

async function signIn(event) {
  event.preventDefault();
  const input = $("operator-token");
  const token = input.value.trim();
  const error = $("sign-in-error");
  if (!token) {
    showError(error, { message: "Enter your operator token, or the admin token." });
    input.focus();
    return;
  }

  sessionStorage.setItem(tokenStorageKey, token);
  try {
    await loadMe();
    await loadProjects();
  } catch (e) {
    forgetSession();
    showError(error, e.status === 401 && !tokenRefusal(e) ? { message: "That token was not accepted. Check it and try again." } : e);
    input.select();
    return;
  }

  input.value = "";
  clearError(error);
  $("sign-in-view").hidden = true;
  $("app-view").hidden = false;
  await render();
  $("main").focus();
}

function signOut() {
  forgetSession();
  history.replaceState(null, "", "#/");
  showSignIn();
}

// A 401 after signing in means the token was revoked, expired or replaced under us: ask for one again rather than show
// a broken page. Anything else, a 403 included, is said where it happened, and the operator stays signed in.
function handleFailure(error, element) {
  if (error.status === 401) {
    forgetSession();
    showSignIn(tokenRefusal(error) ? error : { message: "Your token was not accepted any more. Sign in again." });
    return;
  }
  showError(element, error);
}

// ---------- data ----------

async function loadMe() {
  state.me = await api("GET", "/v1/operators/current");
  showWho();
}

// The top bar says who is signed in, and the shell offers only what their role may do.
function showWho() {
  const me = state.me;
  const who = $("signed-in-as");
  who.replaceChildren(...(me
    ? [h("span", { class: "muted" }, "Signed in as "), h("strong", {}, me.name), ` · ${me.role}`,
      isBreakGlass(me) ? " (break-glass)" : ""]
    : []));
  who.hidden = !me;
  $("new-project-button").hidden = !may.createProject();
  $("admin-nav").hidden = !may.manageOperators();
}

// A listing read to its end stops at a page token it was given before: following it would read the same pages for ever.
function checkPageToken(seen, pageToken, what) {
  if (!pageToken) return;
  if (seen.has(pageToken)) {
    throw new ApiError(0, "", `KeyAdmin sent a page token it had sent before while listing ${what}: stopped rather than read the same pages for ever.`);
  }
  seen.add(pageToken);
}

async function loadProjects() {
  // The picker lists every project the operator may see, however many pages that takes.
  const projects = [];
  const seen = new Set();
  let pageToken = "";
  do {
    const page = await api("GET", `/v1/projects?pageSize=500${pageToken ? `&pageToken=${encodeURIComponent(pageToken)}` : ""}`);
    projects.push(...(page.projects ?? []));
    pageToken = page.nextPageToken ?? "";
    checkPageToken(seen, pageToken, "projects");
  } while (pageToken);
  state.projects = projects;
  const select = $("project-select");
  select.replaceChildren(...projects.map((p) => h("option", { value: p.id }, p.name)));
  select.disabled = projects.length === 0;
}

async function loadProject(projectId, sequence) {
  if (state.project?.id === projectId) return state.project;
  const project = await api("GET", `/v1/projects/${encodeURIComponent(projectId)}`);
  if (sequence === renderSequence) state.project = project;
  return project;
}

// ---------- rendering ----------

let renderSequence = 0;

async function render() {
  if (!sessionStorage.getItem(tokenStorageKey)) {
    showSignIn();
    return;
  }
  $("sign-in-view").hidden = true;
  $("app-view").hidden = false;

  const sequence = ++renderSequence;
  const route = parseRoute();
  const main = $("main");

  if (state.revealed && (route.view !== "keys" || state.revealed.route !== location.hash)) {
    state.revealed = null;
  }
  if (state.issued && (route.view !== "operators" || state.issued.route !== location.hash)) {
    state.issued = null;
  }

  try {
    if (!state.me) await loadMe();
    if (state.projects.length === 0) await loadProjects();
    if (sequence !== renderSequence) return;
    if (route.view === "operators") {
      updateNav(route);
      await renderOperators(main, sequence);
      return;
    }
    if (route.view === "home") {
      if (state.projects.length === 0) {
        renderNoProjects(main);
        return;
      }
      const first = state.projects[0];
      navigate(keysRoute(first.id, first.environments?.[0]?.name ?? "dev"), { replace: true });
      return;
    }

    const project = await loadProject(route.projectId, sequence);
    if (sequence !== renderSequence) return;
    updatePickers(project, route);

    if (route.view === "settings") {
      await renderSettings(main, project, sequence);
      return;
    }

    const environment = route.environment ?? project.environments?.[0]?.name;
    if (!route.environment && environment) {
      navigate(keysRoute(project.id, environment), { replace: true });
      return;
    }
    await renderKeys(main, project, environment, sequence);
  } catch (error) {
    if (sequence !== renderSequence) return;
    if (error.status === 401) {
      handleFailure(error);
      return;
    }
    if (error.status === 404 && error.reason === "PROJECT_NOT_FOUND") {
      state.project = null;
    }
    const message = h("p", { class: "form-error", role: "alert" });
    showError(message, error);
    main.replaceChildren(
      h("h1", {}, error.status === 403 ? "Not allowed" : "Something went wrong"),
      message,
      h("p", {}, h("a", { href: "#/" }, "Go to your first project")),
    );
  }
}

function updatePickers(project, route) {
  const projectSelect = $("project-select");
  if (![...projectSelect.options].some((o) => o.value === project.id)) {
    projectSelect.append(h("option", { value: project.id }, project.name));
  }
  projectSelect.value = project.id;

  const environmentSelect = $("environment-select");
  const names = (project.environments ?? []).map((e) => e.name);
  const current = [...environmentSelect.options].map((o) => o.value);
  if (names.join() !== current.join()) {
    environmentSelect.replaceChildren(...names.map((name) => h("option", { value: name }, name)));
  }
  $("environment-picker").hidden = route.view !== "keys";
  if (route.environment) environmentSelect.value = route.environment;

  const environment = route.environment ?? (environmentSelect.value || names[0] || "dev");
  $("nav-keys").href = keysRoute(project.id, environment);
  $("nav-settings").href = settingsRoute(project.id);
  updateNav(route);
}

// On the Operators page the project links lead back to the project last shown (or the first), whatever it was.
function updateNav(route) {
  if (route.view === "operators") {
    $("environment-picker").hidden = true;
    const project = state.project ?? state.projects[0];
    $("nav-keys").href = project ? keysRoute(project.id, $("environment-select").value || project.environments?.[0]?.name || "dev") : "#/";
    $("nav-settings").href = project ? settingsRoute(project.id) : "#/";
  }
  for (const [link, view] of [[$("nav-keys"), "keys"], [$("nav-settings"), "settings"], [$("nav-operators"), "operators"]]) {
    if (route.view === view) {
      link.setAttribute("aria-current", "page");
    } else {
      link.removeAttribute("aria-current");
    }
  }
}

function renderNoProjects(main) {
  $("environment-picker").hidden = true;
  updateNav({ view: "home" });
  main.replaceChildren(
    h("h1", {}, "API Keys"),
    h("div", { class: "empty card" },
      h("h2", {}, "No projects yet"),
      may.createProject()
        ? [
          h("p", {}, "Keys belong to an environment of a project. Create your first project to issue API keys; it comes with dev, staging and prod environments."),
          h("button", { type: "button", class: "primary", onclick: (e) => openNewProject(e.currentTarget) }, "Create a project"),
        ]
        : h("p", {}, "Keys belong to an environment of a project, and there is none you can see yet. An editor or an owner can create one."),
    ),
  );
}

const sections = {
  publishable: {
    heading: "Publishable Keys",
    prefix: "pk_",
    description: "For client-side code: browsers and mobile apps. Limited permissions: they reach only the routes open to publishable keys, so they are safe to ship in an app.",
    empty: "No publishable keys here yet. Add one to call the API from a browser or a mobile app.",
    emptyToRead: "No publishable keys here yet.",
  },
  secret: {
    heading: "Secret Keys",
    prefix: "sk_",
    description: "For server-side code only. Full permissions: never put one in a browser, an app or a repository. The full key is shown once, when you create it.",
    empty: "No secret keys here yet. Add one for your servers; you will see its value once, so have somewhere safe to keep it.",
    emptyToRead: "No secret keys here yet.",
  },
};

const keyPageSize = 25;
const keyStatuses = { "": "All statuses", active: "Active", disabled: "Disabled", expired: "Expired", rolling: "Rolling" };

function listingFor(route) {
  if (state.listing?.route !== route) {
    // notice: what a pasted key turned out to be ({ text, alert?, reason?, link? }), shown until the next search.
    state.listing = { route, q: "", status: "", notice: null, pages: { publishable: [""], secret: [""] } };
  }
  return state.listing;
}

function keyListQuery(type, listing) {
  const pages = listing.pages[type];
  const query = new URLSearchParams({ type, pageSize: String(keyPageSize) });
  if (listing.q) query.set("q", listing.q);
  if (listing.status) query.set("status", listing.status);
  if (pages.at(-1)) query.set("pageToken", pages.at(-1));
  return query.toString();
}

async function renderKeys(main, project, environment, sequence) {
  const listing = listingFor(location.hash);
  main.setAttribute("aria-busy", "true");
  let pages;
  try {
    pages = await Promise.all(["publishable", "secret"].map((type) =>
      api("GET", `${keysPath(project.id, environment)}?${keyListQuery(type, listing)}`)));
  } finally {
    if (sequence === renderSequence) main.removeAttribute("aria-busy");
  }
  if (sequence !== renderSequence) return;

  main.replaceChildren(
    h("div", { class: "page-head" },
      h("h1", {}, "API Keys"),
      h("p", { class: "lede" }, "Keys of ", h("strong", {}, project.name), " in the ", h("strong", {}, environment), " environment. Apps send a key in the ", h("code", {}, "X-API-Key"), " header."),
    ),
    renderKeyFilters(listing, project, environment),
    ...["publishable", "secret"].map((type, i) =>
      renderSection(type, pages[i].keys ?? [], pages[i].nextPageToken ?? "", project, environment, listing)),
  );
}

// A whole key, or an operator token, somewhere in what was typed: the key format's prefix and more of a body than a
// search for a key's visible ends ever holds (lib/ApiKeys/KeyString.cs: a prefix, 43 base62 characters and a 6-character
// checksum). Such text is never put in a URL, where proxies and access logs keep it.
const keyShaped = /(^|[^0-9A-Za-z])(pk|sk|op)_[0-9A-Za-z]{16,}/;
const wholeApiKey = /^(pk|sk)_[0-9A-Za-z]{49}$/;

// Search and filter apply to both sections, and send each back to its first page. A pasted key is looked up instead
// (FindKey, in a request body), never searched for.
function renderKeyFilters(listing, project, environment) {
  const search = h("input", {
    id: "key-search", type: "search", name: "q", maxlength: "64", autocomplete: "off", spellcheck: "false",
    placeholder: "Name, the key's last characters, or a whole key", value: listing.q, "aria-describedby": "key-search-hint",
  });
  const status = h("select", { id: "key-status-filter", name: "status" },
    Object.entries(keyStatuses).map(([value, label]) => h("option", { value, selected: value === listing.status }, label)));
  const submit = h("button", { type: "submit", class: "secondary" }, "Search");
  const form = h("form", { class: "card filters", role: "search", "aria-label": "Find keys", novalidate: true });
  const apply = async (event) => {
    event?.preventDefault();
    const text = search.value.trim();
    const focusAfter = event?.type === "change" ? "key-status-filter" : "key-search";
    if (keyShaped.test(text)) {
      // Out of the page at once, whatever comes of it.
      search.value = "";
      form.setAttribute("aria-busy", "true");
      submit.disabled = true;
      try {
        await findPastedKey(text, listing, project, environment);
      } finally {
        form.removeAttribute("aria-busy");
        submit.disabled = false;
      }
      if (!listing.notice) return;
      await render();
      document.getElementById("key-find-result")?.focus();
      return;
    }
    listing.q = text;
    listing.status = status.value;
    listing.notice = null;
    listing.pages = { publishable: [""], secret: [""] };
    await render();
    document.getElementById(focusAfter)?.focus();
  };
  status.addEventListener("change", apply);
  form.addEventListener("submit", apply);

  const notice = listing.notice;
  form.append(
    h("div", { class: "filter-field grow" },
      h("label", { for: "key-search" }, "Search"),
      h("div", { class: "inline-row" }, search, submit),
      h("p", { id: "key-search-hint", class: "hint" }, "Finds keys whose name contains the text, or whose key ends with it. Paste a whole key to learn which key it is: it is looked up by its hash and never sent in a URL."),
    ),
    h("div", { class: "filter-field" }, h("label", { for: "key-status-filter" }, "Status"), status),
    notice && h("p", {
      id: "key-find-result",
      class: notice.alert ? "form-error find-result" : "find-result",
      role: notice.alert ? "alert" : "status",
      tabindex: "-1",
    }, notice.text, notice.link ? [" ", h("a", { href: notice.link.href }, notice.link.text)] : null,
    notice.reason ? h("span", { class: "error-code" }, notice.reason) : null),
  );
  return form;
}

// Which key is this? KeyAdmin looks the value up by its hash (POST /v1/keys:find, the value in the body); the answer
// becomes listing.notice, and a key of this environment is listed alone. The value itself is kept nowhere.
async function findPastedKey(text, listing, project, environment) {
  listing.notice = null;
  if (/^op_/.test(text)) {
    listing.notice = { alert: true, text: "That is an operator token, not an API key: nothing was sent. If it leaked, an owner can revoke it on the Operators page." };
    return;
  }
  if (!wholeApiKey.test(text)) {
    listing.notice = { alert: true, text: "That looks like part of an API key: nothing was sent. Search takes a name or the last characters of a key; to learn which key a whole key is, paste it alone." };
    return;
  }

  let key;
  try {
    key = await api("POST", "/v1/keys:find", { key: text });
  } catch (e) {
    if (e.status === 401) {
      handleFailure(e);
      return;
    }
    listing.notice = {
      alert: true,
      reason: e.reason,
      text: e.reason === "KEY_NOT_FOUND" ? "That is not a key of the projects you may see." : e.message,
    };
    return;
  }

  const kind = key.type === "publishable" ? "publishable key" : "secret key";
  const projectName = key.projectId === project.id ? project.name : state.projects.find((p) => p.id === key.projectId)?.name ?? key.projectId;
  if (key.status === "deleted") {
    const when = key.deletedAt ? ` on ${dateTimeFormat.format(new Date(key.deletedAt))}` : "";
    listing.notice = { text: `That is the ${kind} “${key.name}” of ${projectName}, ${key.environment} environment, deleted${when}: it no longer works.` };
  } else if (key.projectId === project.id && key.environment === environment) {
    // Listed alone: its masked form, which the search matches, is no secret.
    listing.q = key.maskedKey;
    listing.status = "";
    listing.pages = { publishable: [""], secret: [""] };
    listing.notice = { text: `That is the ${kind} “${key.name}” of this environment, listed below.` };
  } else {
    listing.notice = {
      text: `That is the ${kind} “${key.name}” of ${projectName}, ${key.environment} environment.`,
      link: { href: keysRoute(key.projectId, key.environment), text: `Go to the keys of ${key.environment}` },
    };
  }
}

function renderSection(type, keys, nextPageToken, project, environment, listing) {
  const section = sections[type];
  const headingId = `${type}-heading`;
  const revealed = type === "secret" && state.revealed ? renderReveal(state.revealed) : null;
  const filtered = Boolean(listing.q || listing.status);
  const pages = listing.pages[type];
  const empty = filtered
    ? "No keys here match the search."
    : pages.length > 1 ? "No more keys." : may.edit() ? section.empty : section.emptyToRead;

  return h("section", { class: "card key-section", id: `${type}-keys`, "aria-labelledby": headingId },
    h("div", { class: "section-head" },
      h("div", {},
        // Focusable from script: where the focus goes when a change takes the last key out of a filtered list.
        h("h2", { id: headingId, tabindex: "-1" }, section.heading, " ", h("span", { class: "prefix" }, section.prefix)),
        h("p", { class: "description" }, section.description),
      ),
      may.edit() && h("button", {
        type: "button",
        class: "primary",
        "aria-describedby": headingId,
        onclick: (e) => openAddKey(type, project, e.currentTarget),
      }, "Add Key"),
    ),
    revealed,
    keys.length === 0
      ? h("p", { class: "empty" }, empty)
      : renderTable(type, keys, environment),
    (pages.length > 1 || nextPageToken) && renderPager(type, pages, nextPageToken),
  );
}

// The page tokens were taken when the pager was drawn: it is off from the first click until the next page is drawn, so a
// double click moves one page, and Previous never leaves the first.
function renderPager(type, pages, nextPageToken) {
  const label = ` ${sections[type].heading.toLowerCase()}`;
  const previous = h("button", { type: "button", class: "secondary small", "data-page": "previous", disabled: pages.length <= 1 }, "Previous", hidden(label));
  const next = h("button", { type: "button", class: "secondary small", "data-page": "next", disabled: !nextPageToken }, "Next", hidden(label));
  const nav = h("nav", { class: "pager", "aria-label": `${sections[type].heading} pages` },
    previous,
    h("span", { class: "muted", "aria-live": "polite" }, `Page ${pages.length}`),
    next,
  );
  const go = async (direction) => {
    if (nav.getAttribute("aria-busy") === "true") return;
    if (direction === "next" ? !nextPageToken : pages.length <= 1) return;
    nav.setAttribute("aria-busy", "true");
    previous.disabled = true;
    next.disabled = true;
    if (direction === "next") pages.push(nextPageToken); else pages.pop();
    await render();
    const section = `#${type}-keys .pager`;
    (document.querySelector(`${section} [data-page="${direction}"]:not(:disabled)`)
      ?? document.querySelector(`${section} button:not(:disabled)`))?.focus();
  };
  previous.addEventListener("click", () => go("previous"));
  next.addEventListener("click", () => go("next"));
  return nav;
}

function renderReveal({ name, value }) {
  const code = h("code", { id: "revealed-secret" }, value);
  const button = h("button", { type: "button", class: "primary small", onclick: (e) => copy(value, "Secret key", e.currentTarget, code) },
    "Copy", hidden(` secret key ${name}`));
  return h("div", { class: "reveal", id: "secret-reveal", role: "region", "aria-labelledby": "reveal-title", tabindex: "-1" },
    h("h3", { id: "reveal-title" }, `Copy your new secret key “${name}” now`),
    h("p", { class: "warning" },
      h("strong", {}, "It will not be shown again. "),
      "Keys keeps only a hash of it: once you leave this page, nobody can see the full key, not even you. Lost it? Delete it and create a new one."),
    h("div", { class: "reveal-value" }, code, button),
    h("button", { type: "button", class: "secondary small", onclick: dismissReveal }, "Done, I have stored it"),
  );
}

function dismissReveal() {
  state.revealed = null;
  document.getElementById("secret-reveal")?.remove();
  document.querySelector("#secret-keys .section-head button")?.focus();
}

function renderTable(type, keys, environment) {
  return h("table", { class: "keys" },
    h("caption", { class: "visually-hidden" }, `${sections[type].heading} in ${environment}`),
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, "Name"),
      h("th", { scope: "col" }, "Key"),
      h("th", { scope: "col" }, "Created"),
      h("th", { scope: "col" }, "Last used"),
      may.edit() && h("th", { scope: "col" }, hidden("Actions")),
    )),
    h("tbody", {}, keys.map((key) => renderRow(type, key))),
  );
}

const dayMs = 86400000;
const windowNames = { 1: "second", 60: "minute", 3600: "hour", 86400: "day" };
const windowText = (seconds) => windowNames[seconds] ?? `${seconds} s`;

function rateLimitText(limit) {
  if (!limit) return "";
  return `${Number(limit.limit).toLocaleString()} / ${windowText(limit.windowSeconds)}${limit.mode === "global" ? " · global" : ""}`;
}

// The window picker's choices, `selected` chosen. The API takes any window of 1 to 86,400 s (keysctl's 90s among them):
// one the picker does not offer is shown as a choice of its own, or the browser would show, and a save would send,
// another.
function windowOptions(selected) {
  const seconds = Object.keys(windowNames).map(Number);
  if (!seconds.includes(selected)) seconds.push(selected);
  return seconds.sort((a, b) => a - b).map((s) => h("option", { value: String(s), selected: s === selected }, windowText(s)));
}

// A rate limit as the form shows it, in the API's shape; null: no limit of its own.
function rateLimitFromForm(custom, limitInput, windowSelect, modeSelect) {
  return custom ? { limit: Number(limitInput.value), windowSeconds: Number(windowSelect.value), mode: modeSelect.value } : null;
}

// What an operator should notice about a key at a glance: its state, and what will bite soon.
function keyBadges(key) {
  const badges = [];
  const now = Date.now();
  if (key.enabled === false) badges.push(h("span", { class: "badge danger" }, "Disabled"));
  if (key.graceUntil) badges.push(h("span", { class: "badge warn" }, "Rolled: stops ", time(key.graceUntil, "relative")));
  if (key.expiresAt) {
    const expiresAt = new Date(key.expiresAt).getTime();
    if (expiresAt <= now) {
      badges.push(h("span", { class: "badge danger" }, "Expired ", time(key.expiresAt)));
    } else if (expiresAt - now <= 7 * dayMs) {
      badges.push(h("span", { class: "badge warn" }, "Expires ", time(key.expiresAt, "relative")));
    } else {
      badges.push(h("span", { class: "badge" }, "Expires ", time(key.expiresAt)));
    }
  }
  const usedAt = new Date(key.lastUsedAt ?? key.createdAt).getTime();
  if (now - usedAt >= 90 * dayMs) {
    badges.push(h("span", { class: "badge warn" }, key.lastUsedAt ? "Not used for 90 days" : "Never used in 90 days"));
  }
  if (key.rateLimit) badges.push(h("span", { class: "badge" }, "Limit ", rateLimitText(key.rateLimit)));
  if (key.allowedCidrs?.length) badges.push(h("span", { class: "badge" }, `IP allowlist (${key.allowedCidrs.length})`));
  if (key.allowedOrigins?.length) badges.push(h("span", { class: "badge" }, `Origins (${key.allowedOrigins.length})`));
  for (const scope of key.scopes ?? []) badges.push(h("span", { class: "badge scope" }, scope));
  return badges;
}

function renderRow(type, key) {
  const shown = type === "publishable" && key.value ? key.value : key.maskedKey;
  const what = shown === key.value ? "Publishable key" : "Masked key";
  const badges = keyBadges(key);

  return h("tr", { "data-key-id": key.id, class: key.enabled === false ? "disabled" : null },
    h("th", { scope: "row" }, h("span", { class: "key-name" }, key.name), badges.length ? h("div", { class: "badges" }, badges) : null),
    h("td", {},
      h("button", {
        type: "button",
        class: "key-value",
        title: "Click to copy",
        onclick: (e) => copy(shown, what, e.currentTarget),
      }, h("code", {}, shown), h("span", { class: "copy-hint", "aria-hidden": "true" }, "Copy"), hidden(` (copy ${key.name})`)),
    ),
    h("td", {}, time(key.createdAt)),
    h("td", {}, key.lastUsedAt ? time(key.lastUsedAt, "relative") : h("span", { class: "muted" }, "Never")),
    may.edit() && h("td", { class: "actions" },
      h("button", { type: "button", class: "link", "data-action": "edit", onclick: (e) => openEditKey(key, e.currentTarget) }, "Edit", hidden(` ${key.name}`)),
      h("button", {
        type: "button",
        class: "link",
        "data-action": "toggle",
        onclick: (e) => toggleKey(key, e.currentTarget),
      }, key.enabled === false ? "Enable" : "Disable", hidden(` ${key.name}`)),
      // A key in its grace period has been replaced already; only deleting it (to stop it early) makes sense.
      key.graceUntil ? null : h("button", { type: "button", class: "link", "data-action": "roll", onclick: (e) => openRoll(key, e.currentTarget) }, "Roll", hidden(` ${key.name}`)),
      h("button", { type: "button", class: "danger-link", "data-action": "delete", onclick: (e) => openDelete(key, e.currentTarget) }, "Delete", hidden(` ${key.name}`)),
    ),
  );
}

async function renderSettings(main, project, sequence) {
  const projectIdButton = h("button", {
    type: "button",
    class: "key-value",
    title: "Click to copy",
    onclick: (e) => copy(project.id, "Project ID", e.currentTarget),
  }, h("code", { id: "project-id" }, project.id), h("span", { class: "copy-hint", "aria-hidden": "true" }, "Copy"), hidden(" (copy)"));

  const environmentError = h("p", { class: "form-error", role: "alert", hidden: true });
  const environmentInput = h("input", {
    id: "environment-name", name: "name", maxlength: "32", autocomplete: "off", spellcheck: "false",
    placeholder: "qa", "aria-describedby": "environment-name-hint",
  });
  const environmentForm = h("form", { class: "inline-form", novalidate: true, onsubmit: (e) => createEnvironment(e, project, environmentInput, environmentError) },
    h("label", { for: "environment-name" }, "New environment"),
    h("div", { class: "inline-row" }, environmentInput, h("button", { type: "submit", class: "secondary" }, "Add environment")),
    h("p", { id: "environment-name-hint", class: "hint" }, "Lowercase letters, digits and -, up to 32 characters."),
    environmentError,
  );

  const activity = h("div", {}, h("p", { class: "muted" }, "Loading…"));

  main.replaceChildren(
    h("div", { class: "page-head" }, h("h1", {}, "Project settings")),
    h("section", { class: "card", "aria-labelledby": "general-heading" },
      h("h2", { id: "general-heading" }, "General"),
      h("dl", { class: "settings" },
        h("dt", {}, "Name"), h("dd", {}, project.name),
        h("dt", {}, "Project ID"), h("dd", {}, projectIdButton),
        h("dt", {}, "Created"), h("dd", {}, time(project.createdAt) ?? "—"),
      ),
    ),
    renderPolicies(project),
    h("section", { class: "card", "aria-labelledby": "environments-heading" },
      h("h2", { id: "environments-heading" }, "Environments"),
      h("ul", { class: "environments" }, (project.environments ?? []).map((e) =>
        h("li", {}, h("a", { href: keysRoute(project.id, e.name) }, e.name), " ", h("span", { class: "muted" }, "created ", time(e.createdAt))))),
      may.edit() && environmentForm,
    ),
    h("section", { class: "card", "aria-labelledby": "activity-heading" },
      h("h2", { id: "activity-heading" }, "Recent activity"),
      activity,
    ),
  );

  try {
    const { events = [] } = await api("GET", `/v1/projects/${encodeURIComponent(project.id)}/audit?limit=20`);
    if (sequence !== renderSequence) return;
    activity.replaceChildren(events.length === 0
      ? h("p", { class: "empty" }, "Nothing yet. Creating, rolling and deleting keys shows up here.")
      : h("table", { class: "keys" },
        h("caption", { class: "visually-hidden" }, "Recent activity"),
        h("thead", {}, h("tr", {}, ["When", "What", "Key", "Environment", "By"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, events.map((e) => h("tr", {},
          h("td", {}, time(e.occurredAt, "relative")),
          h("td", {}, auditActions[e.action] ?? e.action),
          h("td", {}, e.keyName || dash()),
          h("td", {}, e.environment || dash()),
          h("td", {}, e.actor || dash()))))));
  } catch (error) {
    if (sequence !== renderSequence) return;
    const message = h("p", { class: "form-error", role: "alert" });
    handleFailure(error, message);
    activity.replaceChildren(message);
  }
}

// The project's rules for its keys: a default rate limit, and how long a secret key may live. Viewers read them.
function renderPolicies(project) {
  const limit = project.defaultRateLimit ?? null;
  const lifetime = project.maxSecretKeyLifetimeDays || 0;
  if (!may.edit()) {
    return h("section", { class: "card", id: "policies", "aria-labelledby": "policies-heading" },
      h("h2", { id: "policies-heading" }, "Key policies"),
      h("dl", { class: "settings" },
        h("dt", {}, "Default rate limit"), h("dd", {}, limit ? rateLimitText(limit) : "None"),
        h("dt", {}, "Secret keys expire within"), h("dd", {}, lifetime ? `${lifetime} days` : "No limit"),
      ));
  }

  const error = h("p", { id: "policies-error", class: "form-error", role: "alert", hidden: true });
  const choice = h("select", { id: "policy-rate-limit", name: "defaultRateLimit", "aria-describedby": "policy-rate-limit-hint" },
    h("option", { value: "none", selected: !limit }, "None"),
    h("option", { value: "custom", selected: Boolean(limit) }, "A limit for every key without its own"));
  const limitInput = h("input", { id: "policy-limit", type: "number", min: "1", max: "1000000000", step: "1", inputmode: "numeric", value: String(limit?.limit ?? 1000) });
  const windowSelect = h("select", { id: "policy-window" }, windowOptions(limit?.windowSeconds ?? 60));
  const modeSelect = h("select", { id: "policy-mode" },
    h("option", { value: "local", selected: (limit?.mode || "local") === "local" }, "By each gateway"),
    h("option", { value: "global", selected: limit?.mode === "global" }, "Across all gateways"));
  const fields = h("div", { class: "inline-row", id: "policy-rate-limit-fields", hidden: !limit },
    h("div", {}, h("label", { for: "policy-limit" }, "Requests"), limitInput),
    h("div", {}, h("label", { for: "policy-window" }, "Per"), windowSelect),
    h("div", {}, h("label", { for: "policy-mode" }, "Counted"), modeSelect),
  );
  choice.addEventListener("change", () => { fields.hidden = choice.value !== "custom"; });
  const lifetimeInput = h("input", {
    id: "policy-lifetime", type: "number", min: "1", max: "3650", step: "1", inputmode: "numeric",
    value: lifetime ? String(lifetime) : "", placeholder: "No limit", "aria-describedby": "policy-lifetime-hint",
  });

  const formLimit = () => rateLimitFromForm(choice.value === "custom", limitInput, windowSelect, modeSelect);
  // Saving sends what the operator changed in the form: compared with the form as it was shown, not re-derived from the
  // project, so a field nobody touched is never sent.
  const shownLimit = formLimit();
  const save = async (event) => {
    event.preventDefault();
    const changes = {};
    const newLimit = formLimit();
    if (JSON.stringify(newLimit) !== JSON.stringify(shownLimit)) changes.defaultRateLimit = newLimit;
    const days = lifetimeInput.value.trim() ? Number(lifetimeInput.value) : 0;
    if (days !== lifetime) changes.maxSecretKeyLifetimeDays = days;
    if (Object.keys(changes).length === 0) {
      announce("Nothing changed.");
      return;
    }
    await submitting(event.currentTarget.querySelector("button[type=submit]"), error, choice, async () => {
      state.project = await api("PATCH", `/v1/projects/${encodeURIComponent(project.id)}`, changes);
      announce("Key policies saved.");
      await render();
      document.getElementById("policy-rate-limit")?.focus();
    });
  };

  return h("section", { class: "card", id: "policies", "aria-labelledby": "policies-heading" },
    h("h2", { id: "policies-heading" }, "Key policies"),
    h("form", { class: "inline-form", novalidate: true, onsubmit: save },
      h("label", { for: "policy-rate-limit" }, "Default rate limit"),
      choice,
      h("p", { id: "policy-rate-limit-hint", class: "hint" }, "Applies to every key of the project that has no limit of its own, on every gateway within a second."),
      fields,
      h("label", { for: "policy-lifetime" }, "Secret keys must expire within (days)"),
      lifetimeInput,
      h("p", { id: "policy-lifetime-hint", class: "hint" }, "New, rolled and edited secret keys must have an expiry at most this far ahead. Existing keys are not changed. Empty: no limit."),
      error,
      h("button", { type: "submit", class: "secondary" }, "Save policies"),
    ));
}

// ---------- operators (owners only) ----------

async function renderOperators(main, sequence) {
  const me = state.me;
  if (!may.manageOperators()) {
    // No call that KeyAdmin would refuse: say why the page is empty, and stay signed in.
    main.replaceChildren(
      h("div", { class: "page-head" }, h("h1", {}, "Operators")),
      h("p", { class: "warning" },
        `Managing operators needs the owner role; you are signed in as ${me.name}, ${me.role === "editor" ? "an" : "a"} ${me.role}.`),
      h("p", {}, h("a", { href: "#/" }, "Go to your first project")),
    );
    return;
  }

  main.setAttribute("aria-busy", "true");
  let operators;
  try {
    ({ operators = [] } = await api("GET", "/v1/operators"));
  } finally {
    if (sequence === renderSequence) main.removeAttribute("aria-busy");
  }
  if (sequence !== renderSequence) return;

  main.replaceChildren(
    h("div", { class: "page-head" },
      h("h1", {}, "Operators"),
      h("p", { class: "lede" }, "People and jobs who manage keys here, each with a token of their own: the audit log names who did what, and one token can be revoked without the others."),
    ),
    h("section", { class: "card", id: "operators", "aria-labelledby": "operators-heading" },
      h("div", { class: "section-head" },
        h("div", {},
          h("h2", { id: "operators-heading" }, "Operators ", h("span", { class: "prefix" }, "op_")),
          h("p", { class: "description" }, "A viewer reads; an editor also changes projects, environments and keys; an owner also manages operators. The break-glass admin token is not listed: it is KeyAdmin's own."),
        ),
        h("button", { type: "button", class: "primary", id: "new-operator-button", onclick: (e) => openNewOperator(e.currentTarget) }, "New operator"),
      ),
      state.issued ? renderTokenReveal(state.issued) : null,
      operators.length === 0
        ? h("p", { class: "empty" }, "No operators yet: everyone signs in with the admin token. Create one for each person or job.")
        : renderOperatorTable(operators),
    ),
  );
}

function operatorStatus(operator) {
  if (operator.revokedAt) return "revoked";
  if (operator.expiresAt && new Date(operator.expiresAt) <= new Date()) return "expired";
  return "active";
}

function projectNames(projectIds) {
  if (!projectIds?.length) return "All projects";
  return projectIds.map((id) => state.projects.find((p) => p.id === id)?.name ?? id).join(", ");
}

function renderOperatorTable(operators) {
  return h("table", { class: "keys" },
    h("caption", { class: "visually-hidden" }, "Operators"),
    h("thead", {}, h("tr", {},
      ["Name", "Role", "Projects", "Token", "Created", "Expires", "Status"].map((c) => h("th", { scope: "col" }, c)),
      h("th", { scope: "col" }, hidden("Actions")),
    )),
    h("tbody", {}, operators.map(renderOperatorRow)),
  );
}

function renderOperatorRow(operator) {
  const status = operatorStatus(operator);
  const statusCell = {
    active: [h("span", { class: "badge" }, "Active")],
    expired: [h("span", { class: "badge danger" }, "Expired")],
    revoked: [h("span", { class: "badge danger" }, "Revoked"), " ", h("span", { class: "muted" },
      operator.revokedBy ? `by ${operator.revokedBy} ` : "", time(operator.revokedAt, "relative"))],
  }[status];

  return h("tr", { "data-operator-id": operator.id, "data-status": status },
    h("th", { scope: "row" }, h("span", { class: "key-name" }, operator.name),
      operator.id === state.me?.id ? h("span", { class: "muted" }, " (you)") : null),
    h("td", {}, operator.role),
    h("td", {}, projectNames(operator.projectIds)),
    h("td", {}, operator.maskedToken ? h("code", {}, operator.maskedToken) : dash()),
    h("td", {}, time(operator.createdAt) ?? dash(), operator.createdBy ? h("span", { class: "muted" }, ` by ${operator.createdBy}`) : null),
    h("td", {}, operator.expiresAt ? time(operator.expiresAt) : h("span", { class: "muted" }, "Never")),
    h("td", {}, statusCell),
    h("td", { class: "actions" },
      status === "active"
        ? h("button", { type: "button", class: "danger-link", onclick: (e) => openRevoke(operator, e.currentTarget) }, "Revoke", hidden(` ${operator.name}`))
        : null),
  );
}

function renderTokenReveal({ name, token }) {
  const code = h("code", { id: "revealed-token" }, token);
  const button = h("button", { type: "button", class: "primary small", onclick: (e) => copy(token, "Operator token", e.currentTarget, code) },
    "Copy", hidden(` token of ${name}`));
  return h("div", { class: "reveal", id: "token-reveal", role: "region", "aria-labelledby": "token-reveal-title", tabindex: "-1" },
    h("h3", { id: "token-reveal-title" }, `Copy the token of “${name}” now`),
    h("p", { class: "warning" },
      h("strong", {}, "It will not be shown again. "),
      `Keys keeps only a hash of it. Hand it to ${name} somewhere safe: they sign in to this console with it, or send it as `,
      h("code", {}, "Authorization: Bearer"), ". Lost it? Revoke it and create a new operator."),
    h("div", { class: "reveal-value" }, code, button),
    h("button", { type: "button", class: "secondary small", onclick: dismissTokenReveal }, "Done, I have handed it over"),
  );
}

function dismissTokenReveal() {
  state.issued = null;
  document.getElementById("token-reveal")?.remove();
  document.getElementById("new-operator-button")?.focus();
}

function openNewOperator(opener) {
  $("new-operator-form").reset();
  clearError($("new-operator-error"));
  $("operator-projects").replaceChildren(...state.projects.map((p, i) =>
    h("label", { class: "check", for: `operator-project-${i}` },
      h("input", { type: "checkbox", id: `operator-project-${i}`, name: "projectIds", value: p.id }),
      " ", p.name)));
  if (state.projects.length === 0) {
    $("operator-projects").append(h("p", { class: "muted" }, "No projects yet: the token will reach every project."));
  }
  updateOperatorProjects();
  openDialog($("new-operator-dialog"), opener);
  $("operator-name").focus();
}

// An owner's token reaches every project (it manages operators, who span projects): no choice to offer.
function updateOperatorProjects() {
  $("operator-projects-field").hidden = $("operator-role").value === "owner";
}

async function submitNewOperator(event) {
  event.preventDefault();
  const error = $("new-operator-error");
  clearError(error);
  const role = $("operator-role").value;
  const expiry = $("operator-expiry").value;
  const request = {
    name: $("operator-name").value.trim(),
    role,
    projectIds: role === "owner"
      ? []
      : [...$("operator-projects").querySelectorAll("input[type=checkbox]:checked")].map((box) => box.value),
    expiresAt: expiry ? new Date(Date.now() + Number(expiry) * 86400000).toISOString() : undefined,
  };
  if (!request.name) {
    showError(error, { message: "Give the operator a name, such as ana or ci-deploy." });
    $("operator-name").focus();
    return;
  }

  const route = location.hash;
  await submitting($("new-operator-submit"), error, $("operator-name"), async () => {
    const created = await api("POST", "/v1/operators", request);
    state.issued = { operatorId: created.operator.id, name: created.operator.name, token: created.token, route };
    finishDialog($("new-operator-dialog"));
    announce(`Operator ${created.operator.name} created. Copy the token now: it is shown once.`);
    await render();
    document.getElementById("token-reveal")?.focus();
  });
}

function openRevoke(operator, opener) {
  state.revoking = { operator, route: location.hash };
  $("revoke-operator-form").reset();
  clearError($("revoke-operator-error"));
  $("revoke-operator-title").textContent = `Revoke operator “${operator.name}”?`;
  $("revoke-operator-name").textContent = operator.name;
  $("revoke-operator-summary").replaceChildren(
    `${operator.role[0].toUpperCase()}${operator.role.slice(1)} with the token `,
    h("code", {}, operator.maskedToken),
    operator.projectIds?.length ? `, on ${projectNames(operator.projectIds)}.` : ", on every project.",
    operator.id === state.me?.id ? " This is your own token: you will be signed out." : "",
  );
  $("revoke-operator-submit").disabled = true;
  openDialog($("revoke-operator-dialog"), opener);
  $("revoke-confirm-name").focus();
}

function updateRevokeButton() {
  $("revoke-operator-submit").disabled = $("revoke-confirm-name").value !== state.revoking?.operator.name;
}

async function submitRevoke(event) {
  event.preventDefault();
  const revoking = state.revoking;
  if (!revoking || $("revoke-confirm-name").value !== revoking.operator.name) return;

  await submitting($("revoke-operator-submit"), $("revoke-operator-error"), $("revoke-confirm-name"), async () => {
    const { operator } = revoking;
    await api("POST", `/v1/operators/${encodeURIComponent(operator.id)}:revoke`, {});
    if (state.issued?.operatorId === operator.id) state.issued = null;
    finishDialog($("revoke-operator-dialog"));
    announce(`Operator ${operator.name} revoked. Their token no longer works.`);
    await render();
    document.getElementById("new-operator-button")?.focus();
  });
}

const auditActions = {
  "project.created": "Project created",
  "environment.created": "Environment created",
  "key.created": "Key created",
  "key.deleted": "Key deleted",
  "key.rolled": "Key rolled",
  "key.updated": "Key updated",
  "key.disabled": "Key disabled",
  "key.enabled": "Key enabled",
  "project.updated": "Project settings changed",
  "operator.created": "Operator created",
  "operator.revoked": "Operator revoked",
  "caches.flushed": "Caches flushed",
};

const dash = () => h("span", { class: "muted" }, "—");

// Runs a form's API call with its submit button off, so a double click cannot send it twice. A failure is shown in
// the form, in words, and the focus goes back to the field to fix; a 401 signs out instead.
async function submitting(submit, error, fieldToFix, action) {
  clearError(error);
  submit.disabled = true;
  try {
    await action();
  } catch (e) {
    handleFailure(e, error);
    if (e.status !== 401) fieldToFix.focus();
  } finally {
    submit.disabled = false;
  }
}

async function createEnvironment(event, project, input, error) {
  event.preventDefault();
  await submitting(event.currentTarget.querySelector("button[type=submit]"), error, input, async () => {
    const environment = await api("POST", `/v1/projects/${encodeURIComponent(project.id)}/environments`, { name: input.value.trim() });
    state.project = null;
    announce(`Environment ${environment.name} added.`);
    await render();
    document.getElementById("environment-name")?.focus();
  });
}

// ---------- dialogs ----------

function openDialog(dialog, opener) {
  state.opener = opener ?? document.activeElement;
  dialog.showModal();
}

// Closes a dialog whose work is done: the focus goes to what the work produced, not back to the opener.
function finishDialog(dialog) {
  state.opener = null;
  dialog.close();
}

function restoreFocus() {
  const opener = state.opener;
  state.opener = null;
  if (opener?.isConnected) opener.focus();
}

function openAddKey(type, project, opener) {
  state.adding = { type, ...here() };
  const { environment } = state.adding;
  const form = $("add-key-form");
  form.reset();
  $("key-expiry-date-field").hidden = true;
  clearError($("add-key-error"));
  $("add-key-title").textContent = type === "publishable" ? "Add publishable key" : "Add secret key";
  $("add-key-lede").replaceChildren(
    "In ", h("strong", {}, project.name), " / ", h("strong", {}, environment), ". ",
    type === "publishable" ? "Its value stays visible in the list." : "Its value is shown once, right after you create it.",
  );
  const tomorrow = new Date(Date.now() + 86400000);
  $("key-expiry-date").min = tomorrow.toISOString().slice(0, 10);
  openDialog($("add-key-dialog"), opener);
  $("key-name").focus();
}

function expiryFromForm() {
  const choice = $("key-expiry").value;
  if (!choice) return undefined;
  if (choice === "date") {
    const value = $("key-expiry-date").value;
    if (!value) throw new ApiError(0, "", "Pick the day the key expires, or choose another expiry.");
    // The end of the chosen day, where the operator is.
    return new Date(`${value}T23:59:59.999`).toISOString();
  }
  return new Date(Date.now() + Number(choice) * 86400000).toISOString();
}

async function submitAddKey(event) {
  event.preventDefault();
  const adding = state.adding;
  const error = $("add-key-error");
  const submit = $("add-key-submit");
  clearError(error);

  let request;
  try {
    request = {
      name: $("key-name").value.trim(),
      type: adding.type,
      scopes: $("key-scopes").value.split(/[\s,]+/).filter(Boolean),
      expiresAt: expiryFromForm(),
    };
  } catch (e) {
    showError(error, e);
    return;
  }
  if (!request.name) {
    showError(error, { message: "Give the key a name, such as my-app-key." });
    $("key-name").focus();
    return;
  }

  await submitting(submit, error, $("key-name"), async () => {
    const created = await api("POST", keysPath(adding.projectId, adding.environment), request);
    if (adding.type === "secret") {
      state.revealed = { keyId: created.key.id, name: created.key.name, value: created.value, route: adding.route };
    }
    finishDialog($("add-key-dialog"));
    announce(`Key ${created.key.name} created.`);
    await render();
    focusNewKey(adding.type, created.key.id);
  });
}

// After a create or a roll, the focus goes where the operator's next step is: the secret to copy, or the new value.
function focusNewKey(type, keyId) {
  const target = type === "secret"
    ? document.getElementById("secret-reveal")
    : document.querySelector(`tr[data-key-id="${CSS.escape(keyId)}"] .key-value`);
  target?.focus();
}

function openDelete(key, opener) {
  state.deleting = { key, ...here() };
  $("delete-key-form").reset();
  clearError($("delete-key-error"));
  $("delete-key-title").textContent = `Delete key “${key.name}”?`;
  $("delete-key-name").textContent = key.name;
  $("delete-key-summary").replaceChildren(
    key.type === "publishable" ? "Publishable key " : "Secret key ",
    h("code", {}, key.maskedKey),
    ` in ${state.deleting.environment}.`,
  );
  $("delete-key-submit").disabled = true;
  openDialog($("delete-key-dialog"), opener);
  $("delete-confirm-name").focus();
}

function updateDeleteButton() {
  $("delete-key-submit").disabled = $("delete-confirm-name").value !== state.deleting?.key.name;
}

async function submitDelete(event) {
  event.preventDefault();
  const deleting = state.deleting;
  const typed = $("delete-confirm-name").value;
  if (!deleting || typed !== deleting.key.name) return;

  await submitting($("delete-key-submit"), $("delete-key-error"), $("delete-confirm-name"), async () => {
    const { key, projectId, environment } = deleting;
    await api("DELETE", `${keysPath(projectId, environment)}/${encodeURIComponent(key.id)}?confirmName=${encodeURIComponent(typed)}`);
    if (state.revealed?.keyId === key.id) state.revealed = null;
    finishDialog($("delete-key-dialog"));
    announce(`Key ${key.name} deleted. Every gateway now rejects it.`);
    await render();
    document.querySelector(`#${key.type}-keys .section-head button`)?.focus();
  });
}

function openRoll(key, opener) {
  state.rolling = { key, ...here() };
  $("roll-key-form").reset();
  clearError($("roll-key-error"));
  $("roll-key-title").textContent = `Roll key “${key.name}”?`;
  $("roll-key-lede").replaceChildren(
    "A new key replaces ", h("code", {}, key.maskedKey), ", with the same name, type and scopes.",
    key.type === "secret" ? " Its value is shown once, right after." : "",
  );
  openDialog($("roll-key-dialog"), opener);
  $("roll-grace").focus();
}

async function submitRoll(event) {
  event.preventDefault();
  const rolling = state.rolling;
  if (!rolling) return;
  await submitting($("roll-key-submit"), $("roll-key-error"), $("roll-grace"), async () => {
    const { key, projectId, environment } = rolling;
    const rolled = await api("POST", `${keysPath(projectId, environment)}/${encodeURIComponent(key.id)}:roll`,
      { gracePeriodSeconds: Number($("roll-grace").value) });
    if (key.type === "secret") {
      state.revealed = { keyId: rolled.key.id, name: rolled.key.name, value: rolled.value, route: rolling.route };
    }
    finishDialog($("roll-key-dialog"));
    announce(rolled.previousKey?.graceUntil && new Date(rolled.previousKey.graceUntil) > new Date()
      ? `Key ${key.name} rolled. The old key works until ${dateTimeFormat.format(new Date(rolled.previousKey.graceUntil))}.`
      : `Key ${key.name} rolled. The old key no longer works.`);
    await render();
    focusNewKey(key.type, rolled.key.id);
  });
}

// Where a key's row is (its section and position), taken before a re-render that may leave it out.
function rowPlace(keyId) {
  const row = document.querySelector(`tr[data-key-id="${CSS.escape(keyId)}"]`);
  const section = row?.closest("section.key-section");
  return row && section ? { section: section.id, index: [...row.parentElement.children].indexOf(row) } : null;
}

// After a key changed and the list was drawn again, the focus goes to the key's own `action` button. A key that a search
// or a status filter now leaves out has no row: the focus goes to the Edit button of the row now in its place (not to a
// switch or a Delete that a second Enter would press), or with no row left to the section's heading, never to <body>;
// and the announcement says where the key went.
function focusAfterChange(keyId, place, action, { listed, unlisted }) {
  const own = document.querySelector(`tr[data-key-id="${CSS.escape(keyId)}"] [data-action="${action}"]`);
  if (own) {
    own.focus();
    announce(listed);
    return;
  }
  const section = place ? document.getElementById(place.section) : null;
  const rows = section ? [...section.querySelectorAll("tbody tr")] : [];
  const row = rows.length > 0 ? rows[Math.min(place.index, rows.length - 1)] : null;
  (row?.querySelector('[data-action="edit"]') ?? section?.querySelector("h2") ?? $("main")).focus();
  announce(unlisted);
}

const leftTheList = "It no longer matches the search or the status filter, so it is not listed.";

// A failure of an action started from a key's row, said at the top of its section (a 401 signs out instead).
function showFailureInSection(button, error) {
  const message = h("p", { class: "form-error", role: "alert" });
  handleFailure(error, message);
  if (error.status !== 401) button.closest("section")?.querySelector(".section-head")?.after(message);
}

// Switching a key off or on is undone as easily as it is done, so it asks for no confirmation; it says what happened.
async function toggleKey(key, button) {
  const { projectId, environment } = here();
  const enabled = key.enabled === false;
  const place = rowPlace(key.id);
  button.disabled = true;
  try {
    await api("PATCH", `${keysPath(projectId, environment)}/${encodeURIComponent(key.id)}`, { enabled });
  } catch (e) {
    button.disabled = false;
    showFailureInSection(button, e);
    return;
  }
  const done = enabled
    ? `Key ${key.name} enabled. Every gateway accepts it again.`
    : `Key ${key.name} disabled. Every gateway now rejects it with TOKEN_DISABLED until you enable it.`;
  await render();
  focusAfterChange(key.id, place, "toggle", { listed: done, unlisted: `${done} ${leftTheList}` });
}

const lines = (text) => text.split(/[\s,]+/).map((line) => line.trim()).filter(Boolean);
const sameList = (a = [], b = []) => a.length === b.length && a.every((item, i) => item === b[i]);

// One key as KeyAdmin has it now, or null when it is gone (deleted, or rolled and past its grace period). There is no
// call for one key: the listing, filtered by the key's type and its masked form (fixed for the key's life, and no
// secret), holds it.
async function readKey(projectId, environment, key) {
  const seen = new Set();
  let pageToken = "";
  do {
    const query = new URLSearchParams({ type: key.type, q: key.maskedKey, pageSize: "50" });
    if (pageToken) query.set("pageToken", pageToken);
    const page = await api("GET", `${keysPath(projectId, environment)}?${query}`);
    const found = (page.keys ?? []).find((k) => k.id === key.id);
    if (found) return found;
    pageToken = page.nextPageToken ?? "";
    checkPageToken(seen, pageToken, "keys");
  } while (pageToken);
  return null;
}

// The list may be minutes old, and scopes, allowlists and metadata are saved whole: the dialog is filled from the key as
// KeyAdmin has it when the dialog opens, or a scope another operator removed meanwhile would come back with a save.
async function openEditKey(listed, opener) {
  const where = here();
  const place = rowPlace(listed.id);
  opener.disabled = true;
  opener.setAttribute("aria-busy", "true");
  let key;
  try {
    key = await readKey(where.projectId, where.environment, listed);
  } catch (e) {
    showFailureInSection(opener, e);
    return;
  } finally {
    opener.disabled = false;
    opener.removeAttribute("aria-busy");
  }
  // The operator went elsewhere while the key was read.
  if (location.hash !== where.route) return;
  if (!key) {
    await render();
    const gone = `Key ${listed.name} no longer exists: it was deleted, or rolled and past its grace period, since the list was shown.`;
    focusAfterChange(listed.id, place, "edit", { listed: gone, unlisted: gone });
    return;
  }

  const form = $("edit-key-form");
  form.reset();
  clearError($("edit-key-error"));
  $("edit-key-title").textContent = `Edit key “${key.name}”`;
  $("edit-key-lede").replaceChildren(
    key.type === "publishable" ? "Publishable key " : "Secret key ", h("code", {}, key.maskedKey),
    `. Changes reach every gateway within a second; the key's value stays the same.`);
  $("edit-key-name").value = key.name;
  $("edit-key-scopes").value = (key.scopes ?? []).join(", ");
  $("edit-key-expiry").value = "keep";
  $("edit-key-expiry-current").textContent = key.expiresAt ? `Now: ${dateTimeFormat.format(new Date(key.expiresAt))}.` : "Now: never.";
  $("edit-key-expiry-date-field").hidden = true;
  $("edit-key-expiry-date").min = new Date(Date.now() + dayMs).toISOString().slice(0, 10);

  const limited = Boolean(key.rateLimit);
  $("edit-key-rate-limit").value = limited ? "custom" : "default";
  $("edit-key-rate-limit-fields").hidden = !limited;
  $("edit-key-limit").value = limited ? String(key.rateLimit.limit) : "100";
  $("edit-key-window").replaceChildren(...windowOptions(limited ? key.rateLimit.windowSeconds : 60));
  $("edit-key-mode").value = key.rateLimit?.mode || "local";

  const secret = key.type === "secret";
  $("edit-key-allowlist-label").textContent = secret ? "Allowed IP ranges" : "Allowed origins";
  $("edit-key-allowlist-hint").textContent = secret
    ? "One CIDR per line, IPv4 or IPv6 (203.0.113.0/24, 2001:db8::/32); a single address is fine. Requests from anywhere else are refused with IP_NOT_ALLOWED. Empty: any address."
    : "One origin per line, exactly as browsers send it (https://app.example.com). Requests from other origins, or with no Origin, are refused with ORIGIN_NOT_ALLOWED. Empty: any origin.";
  $("edit-key-allowlist").value = (secret ? key.allowedCidrs : key.allowedOrigins)?.join("\n") ?? "";
  $("edit-key-metadata").value = key.metadata && Object.keys(key.metadata).length ? JSON.stringify(key.metadata, null, 2) : "";
  state.editing = { key, shown: editFormValues(), place, ...where };
  openDialog($("edit-key-dialog"), opener);
  $("edit-key-name").focus();
}

// What the dialog shows, as the API would take it (the metadata as typed).
function editFormValues() {
  return {
    name: $("edit-key-name").value.trim(),
    scopes: lines($("edit-key-scopes").value),
    rateLimit: rateLimitFromForm($("edit-key-rate-limit").value === "custom", $("edit-key-limit"), $("edit-key-window"), $("edit-key-mode")),
    allowlist: lines($("edit-key-allowlist").value),
    metadata: $("edit-key-metadata").value.trim(),
  };
}

function editExpiry(choice) {
  if (choice === "never") return null;
  if (choice === "date") {
    const value = $("edit-key-expiry-date").value;
    if (!value) throw new ApiError(0, "", "Pick the day the key expires, or choose another expiry.");
    return new Date(`${value}T23:59:59.999`).toISOString();
  }
  return new Date(Date.now() + Number(choice) * dayMs).toISOString();
}

function parseMetadata(text) {
  if (!text) return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(0, "", "Metadata must be a JSON object, such as {\"team\": \"billing\"}.");
  }
}

// Only what the operator changed is sent, compared with the dialog as it was filled: PATCH changes the fields present in
// the body and nothing else, so a field nobody touched stays as KeyAdmin has it.
function keyChanges({ key, shown }) {
  const now = editFormValues();
  const changes = {};
  if (now.name !== shown.name) changes.name = now.name;
  if (!sameList(now.scopes, shown.scopes)) changes.scopes = now.scopes;
  const expiry = $("edit-key-expiry").value;
  if (expiry !== "keep") changes.expiresAt = editExpiry(expiry);
  if (JSON.stringify(now.rateLimit) !== JSON.stringify(shown.rateLimit)) changes.rateLimit = now.rateLimit;
  if (!sameList(now.allowlist, shown.allowlist)) changes[key.type === "secret" ? "allowedCidrs" : "allowedOrigins"] = now.allowlist;
  const metadata = parseMetadata(now.metadata);
  if (JSON.stringify(metadata) !== JSON.stringify(parseMetadata(shown.metadata))) changes.metadata = metadata;
  return changes;
}

async function submitEditKey(event) {
  event.preventDefault();
  const editing = state.editing;
  if (!editing) return;
  const error = $("edit-key-error");
  clearError(error);
  let changes;
  try {
    changes = keyChanges(editing);
  } catch (e) {
    showError(error, e);
    return;
  }
  const place = rowPlace(editing.key.id) ?? editing.place;
  if (Object.keys(changes).length === 0) {
    finishDialog($("edit-key-dialog"));
    focusAfterChange(editing.key.id, place, "edit", { listed: "Nothing changed.", unlisted: "Nothing changed." });
    return;
  }

  await submitting($("edit-key-submit"), error, $("edit-key-name"), async () => {
    const { key, projectId, environment } = editing;
    const updated = await api("PATCH", `${keysPath(projectId, environment)}/${encodeURIComponent(key.id)}`, changes);
    finishDialog($("edit-key-dialog"));
    await render();
    const done = `Key ${updated.name} updated. Every gateway applies the change within a second.`;
    focusAfterChange(key.id, place, "edit", { listed: done, unlisted: `${done} ${leftTheList}` });
  });
}

function openNewProject(opener) {
  $("new-project-form").reset();
  clearError($("new-project-error"));
  openDialog($("new-project-dialog"), opener);
  $("project-name").focus();
}

async function submitNewProject(event) {
  event.preventDefault();
  const submit = event.currentTarget.querySelector("button[type=submit]");
  await submitting(submit, $("new-project-error"), $("project-name"), async () => {
    const project = await api("POST", "/v1/projects", { name: $("project-name").value.trim() });
    finishDialog($("new-project-dialog"));
    await loadProjects();
    state.project = project;
    announce(`Project ${project.name} created.`);
    navigate(keysRoute(project.id, project.environments?.[0]?.name ?? "dev"));
    $("main").focus();
  });
}

// ---------- wiring ----------

function wire() {
  $("sign-in-form").addEventListener("submit", signIn);
  $("sign-out-button").addEventListener("click", signOut);
  $("new-project-button").addEventListener("click", (e) => openNewProject(e.currentTarget));

  $("project-select").addEventListener("change", (e) => {
    const project = state.projects.find((p) => p.id === e.target.value);
    navigate(keysRoute(e.target.value, project?.environments?.[0]?.name ?? "dev"));
  });
  $("environment-select").addEventListener("change", (e) => {
    navigate(keysRoute($("project-select").value, e.target.value));
  });

  $("add-key-form").addEventListener("submit", submitAddKey);
  $("key-expiry").addEventListener("change", (e) => {
    const custom = e.target.value === "date";
    $("key-expiry-date-field").hidden = !custom;
    if (custom) $("key-expiry-date").focus();
  });
  $("delete-key-form").addEventListener("submit", submitDelete);
  $("roll-key-form").addEventListener("submit", submitRoll);
  $("edit-key-form").addEventListener("submit", submitEditKey);
  $("edit-key-expiry").addEventListener("change", (e) => {
    const custom = e.target.value === "date";
    $("edit-key-expiry-date-field").hidden = !custom;
    if (custom) $("edit-key-expiry-date").focus();
  });
  $("edit-key-rate-limit").addEventListener("change", (e) => {
    $("edit-key-rate-limit-fields").hidden = e.target.value !== "custom";
  });
  $("delete-confirm-name").addEventListener("input", updateDeleteButton);
  $("new-project-form").addEventListener("submit", submitNewProject);
  $("new-operator-form").addEventListener("submit", submitNewOperator);
  $("operator-role").addEventListener("change", updateOperatorProjects);
  $("revoke-operator-form").addEventListener("submit", submitRevoke);
  $("revoke-confirm-name").addEventListener("input", updateRevokeButton);

  for (const dialog of document.querySelectorAll("dialog")) {
    dialog.addEventListener("close", restoreFocus);
    for (const button of dialog.querySelectorAll("[data-close]")) {
      button.addEventListener("click", () => dialog.close());
    }
  }

  // A dialog belongs to the page it was opened on: Back must not leave it acting on another project or environment.
  window.addEventListener("hashchange", () => {
    for (const dialog of document.querySelectorAll("dialog[open]")) dialog.close();
    render();
  });
  // A page restored from the back-forward cache must not bring a revealed secret back.
  window.addEventListener("pagehide", () => {
    state.revealed = null;
    state.issued = null;
    document.getElementById("secret-reveal")?.remove();
    document.getElementById("token-reveal")?.remove();
  });
  // The skip link only moves the focus; as a plain "#main" link it would be taken for a route.
  document.querySelector(".skip-link").addEventListener("click", (e) => {
    e.preventDefault();
    $("main").focus();
  });
  render();
}

wire();
